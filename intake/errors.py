"""The one error a bank file is refused with: where (line or XML element), which field, which rule."""

from __future__ import annotations


class BankFileError(ValueError):
    """A bank file that cannot be read or fails its own rules; the whole file is refused.

    `line` is 1-based; `element` is an XML element path (camt.054) where one is known. `code` is the
    scenario contract's error code for the step that imported the file.
    """

    code = "invalid_input"

    def __init__(
        self,
        rule: str,
        *,
        field: str,
        line: int | None = None,
        element: str | None = None,
        file_format: str | None = None,
    ) -> None:
        self.rule = rule
        self.field = field
        self.line = line
        self.element = element
        self.file_format = file_format
        super().__init__(str(self))

    @property
    def position(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.element:
            parts.append(f"element {self.element}")
        return ", ".join(parts) or "the file"

    def __str__(self) -> str:
        what = f"{self.file_format} file" if self.file_format else "bank file"
        return f"{what} refused at {self.position}: {self.field}: {self.rule}"


class UnknownFormat(BankFileError):
    """The file is none of the formats kravsak reads, or a version of one it does not."""
