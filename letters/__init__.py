"""Letters: every notice in a case trail becomes the letter the law prescribes (HTML → PDF with
WeasyPrint), put in the outbox of the channel the event recorded, its SHA-256 kept for the trail."""
