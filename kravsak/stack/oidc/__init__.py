"""The local OpenID provider for development and tests (provider.py), or the issuers named by settings."""

from kravsak.stack.oidc.provider import ExternalOidcProvider, LocalOidcProvider, discovery, provider_config

__all__ = ["ExternalOidcProvider", "LocalOidcProvider", "discovery", "provider_config"]
