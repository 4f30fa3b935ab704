"""Trusted publishing: in CI, a short-lived upload token minted from the job's OIDC identity
instead of a stored one (docs/trusted-publishing.md has the documented facts this follows).

`decide` is pure: whether this run mints, and at which index, from the mode and the
destination `tokens exec` already resolved (never a destination exec did not choose).
`mint` does the exchange: the index's audience, the CI's OIDC token for that audience (the
`id` library, as twine uses it), then PyPI's `mint-token` or crates.io's
`trusted_publishing/tokens`. The minted value only ever lives in this process and the
child's environment: it is masked, audited by name (AUDIT_NAME, `via`), never stored.

`id` and the HTTP client are imported only when minting is attempted; `tokens exec --token`
never imports this module.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping
from urllib.parse import urlsplit

from tokenward.errors import ExitStatus, TokenwardError, UsageError
from tokenward.publishers.base import Target, normalize_url

if TYPE_CHECKING:
    from tokenward.config_trusted import TrustedPublishingConfig

PYPI_TOOLS = frozenset({"twine", "uv", "poetry", "hatch", "flit", "pdm"})
NPMJS = "https://registry.npmjs.org/"
NPM_AUDIENCE = "npm:registry.npmjs.org"  # what npm's own exchange asks the CI for
NPM_ID_TOKEN = "NPM_ID_TOKEN"  # where npm reads a CI's OIDC token (npm CLI lib/utils/oidc.js)
NPM_ID_TOKEN_ONLY = (  # CIs where npm reads the identity from NPM_ID_TOKEN only
    ("GITLAB_CI", "GitLab CI", "give the job `id_tokens: NPM_ID_TOKEN: aud:`"),
    ("CIRCLECI", "CircleCI", "set it from `circleci run oidc get`"),
)
AUDIT_NAME = "(trusted-publishing)"  # not a valid token name: never mistaken for one
VIA = "trusted-publishing"
# What the `id` library's detectors look at before they try anything (GitHub Actions,
# GitLab CI, Buildkite, CircleCI, Google Cloud): without one of them there is no ambient
# identity, and no request is made.
CI_MARKERS = ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "GOOGLE_SERVICE_ACCOUNT_NAME")
GCP_PRODUCT_FILE = "/sys/class/dmi/id/product_name"
MAX_TOKEN = 8192
CLAIMS = ("repository", "workflow", "environment", "ref")
MIN_TOKEN = 32  # a real pypi- macaroon is ~200 characters, a crates.io token `cio` + 32
MAX_LIFETIME = 6 * 3600  # seconds: PyPI says 900, crates.io 30 minutes; anything beyond is not as documented
# Anything shaped like a JWT (header.payload.signature, base64url of a JSON object) is masked
# in every line we print, whoever echoed it.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
REQUEST_TOKEN_VARS = ("ACTIONS_ID_TOKEN_REQUEST_TOKEN",)


class TrustedPublishingFailed(TokenwardError):
    """No token was minted: the exchange was refused, the index or the CI's identity provider
    could not be reached, or the job may not ask for an identity. One line; never the JWT."""

    exit_status = ExitStatus.STORE


class NoIdentity(TrustedPublishingFailed):
    """Not running where an ambient OIDC identity exists (no CI that provides one)."""


@dataclass(frozen=True)
class Decision:
    mode: str  # "prefer" or "only"
    protocol: str  # "pypi", "crates", or "npm" (npm mints by itself)
    index: str  # the index that mints ("" for npm)
    audience: str = ""  # the OIDC audience the config (or the default index) expects; "" unknown


@dataclass
class Minted:
    value: str
    protocol: str
    index: str
    expires: int | None = None  # epoch seconds, when the registry says

    @property
    def host(self) -> str:
        return urlsplit(self.index).netloc

    def revoke(self) -> str | None:
        """crates.io: revoke now (the child is done with it); a warning when that fails."""
        if self.protocol != "crates":
            return None
        from tokenward.errors import RegistryError
        from tokenward.registries.http import HttpClient

        client = HttpClient(retries=1)
        try:
            reply = client.request("DELETE", _crates_tokens_url(self.index), headers={"Authorization": f"Bearer {self.value}"})
        except RegistryError as exc:
            return f"could not revoke the minted crates.io token ({exc.reason}); it expires by itself within 30 minutes"
        finally:
            client.close()
        if reply.status not in (200, 204):
            return f"{self.host} answered HTTP {reply.status} to revoking the minted token; it expires by itself within 30 minutes"
        return None


# -- the decision (pure) ----------------------------------------------------------------------


def override_mode(flag: bool | None) -> str | None:
    """--trusted-publishing (must mint) / --no-trusted-publishing (never) / neither."""
    return None if flag is None else ("only" if flag else "never")


def decide(settings: "TrustedPublishingConfig", override: str | None, target: Target, *, named: bool) -> Decision | None:
    """Whether this run mints, from the mode and the destination exec resolved. None: use
    stored tokens as usual. UsageError when `only` leaves no way to get a token."""
    mode = override or settings.mode
    if mode == "never":
        return None
    if named:
        if override == "only":
            raise UsageError("--token names a stored token and --trusted-publishing asks for a minted one: give one of them")
        return None  # a token named on the command line is the one to use
    protocol, index, audience = _minter(settings, target)
    if protocol:
        return Decision(mode, protocol, index, audience)
    if mode == "only":
        raise UsageError(f"trusted publishing is required ({_why_only(override)}), and {_uncovered(target)}; no stored token is used")
    return None


def _minter(settings: "TrustedPublishingConfig", target: Target) -> tuple[str, str, str]:
    from tokenward.config_trusted import DEFAULT_AUDIENCE

    if not (target.tool and target.publishes and target.repository):
        return "", "", ""
    url = normalize_url(target.repository)
    if target.tool == "npm":
        return ("npm", "", NPM_AUDIENCE) if url == normalize_url(NPMJS) else ("", "", "")
    index = settings.index.get(url, "")  # its keys are normalised (TrustedPublishingConfig)
    if not index:
        return "", "", ""
    audience = settings.audience.get(url, "")
    if target.tool in PYPI_TOOLS:
        return "pypi", index, audience or DEFAULT_AUDIENCE.get(normalize_url(index).rstrip("/"), "")
    if target.tool == "cargo" and not target.repository_name:
        # CARGO_REGISTRY_TOKEN: cargo's default registry. crates.io's audience is its host
        # name: the host the config sends the JWT to anyway.
        return "crates", index, audience or urlsplit(index).netloc
    return "", "", ""


def _why_only(override: str | None) -> str:
    return "--trusted-publishing" if override else "[trusted_publishing] mode = \"only\""


def _uncovered(target: Target) -> str:
    if not (target.tool and target.publishes):
        return "this command is not an upload tokens exec knows"
    if not target.repository:
        return f"where `{target.command}` uploads cannot be told for certain ({target.problem})"
    return f"{target.repository} has no minting index in [trusted_publishing.index]"


# -- the exchange -------------------------------------------------------------------------------


def identity_possible(env: Mapping[str, str] = os.environ) -> bool:
    if any(env.get(name) for name in CI_MARKERS):
        return True
    try:
        with open(GCP_PRODUCT_FILE, encoding="utf-8", errors="replace") as handle:
            return "Google" in handle.read(200)
    except OSError:
        return False


def mint(decision: Decision, *, env: Mapping[str, str] = os.environ) -> Minted:
    """The minted token, or TrustedPublishingFailed (NoIdentity outside CI) with one line."""
    if not identity_possible(env):
        raise NoIdentity("trusted publishing: no OIDC identity here (not GitHub Actions, GitLab CI, Buildkite, CircleCI or Google Cloud)")
    from tokenward.errors import RegistryError
    from tokenward.registries.http import HttpClient

    client = HttpClient(retries=0)  # an OIDC token may be single-use: never sent twice
    try:
        if decision.protocol == "npm":
            _npm_identity(env)
            return Minted("", "npm", NPMJS)
        if decision.protocol == "crates":
            return _mint_crates(client, decision.index, decision.audience, env)
        return _mint_pypi(client, decision.index, decision.audience, env)
    except RegistryError as exc:
        raise TrustedPublishingFailed(f"trusted publishing: {clean(str(exc), 300, *_request_tokens(env))}") from None
    finally:
        client.close()


def _npm_identity(env: Mapping[str, str]) -> None:
    """That npm's own exchange will find an identity (npm CLI lib/utils/oidc.js): NPM_ID_TOKEN
    when set (its presence only: npm reads and exchanges it), else GitHub Actions' request
    (asked here once, as npm asks it). GitLab CI and CircleCI have only NPM_ID_TOKEN."""
    if env.get(NPM_ID_TOKEN):
        return
    for marker, ci, how in NPM_ID_TOKEN_ONLY:
        if env.get(marker) and not env.get("GITHUB_ACTIONS"):
            raise TrustedPublishingFailed(f"trusted publishing: {ci}: {NPM_ID_TOKEN} is not set (npm reads this job's OIDC token "
                                          f"only there): {how} with the audience {NPM_AUDIENCE}")  # fmt: skip
    _credential(NPM_AUDIENCE, env)  # proves the job may ask for an identity; npm asks again itself


def _gitlab_id_token(audience: str, env: Mapping[str, str]) -> None:
    """On GitLab CI (and no CI the `id` library asks first), the job's OIDC token for
    `audience` is the variable `<AUD>_ID_TOKEN` (as `id` names it): without it there is no
    identity, said before anything is asked of the index."""
    if not env.get("GITLAB_CI") or any(env.get(name) for name in ("GITHUB_ACTIONS", "BUILDKITE")):
        return
    name = re.sub(r"[^A-Z0-9_]|^[^A-Z_]", "_", audience.upper()) + "_ID_TOKEN"
    if not env.get(name):
        raise TrustedPublishingFailed(
            f"trusted publishing: GitLab CI: {name} is not set: give the job `id_tokens: {name}: aud: {clean(audience, 60)}`"
        )


def _request_tokens(env: Mapping[str, str]) -> list[str]:
    """The CI's request token(s): masked in every line, like the JWT."""
    return [v for name in REQUEST_TOKEN_VARS for v in (env.get(name), os.environ.get(name)) if v]


def _credential(audience: str, env: Mapping[str, str] = os.environ) -> str:
    """The CI's OIDC token for `audience` (the `id` library: GitHub Actions' request URL and
    token, GitLab's `<AUD>_ID_TOKEN`, ...). The provider's answer body is never shown."""
    masked = _request_tokens(env)
    try:
        import id as oidc
    except ImportError:
        raise TrustedPublishingFailed("trusted publishing: the `id` library is not installed (pip install id)") from None
    try:
        jwt = oidc.detect_credential(audience=audience)
    except oidc.GitHubOidcPermissionCredentialError:
        raise TrustedPublishingFailed(
            "trusted publishing: this GitHub Actions job may not ask for an OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL/"
            "_TOKEN are unset): give the job `permissions: id-token: write`"
        ) from None
    except oidc.IdentityError as exc:
        said = re.sub(r"body=.*", "body not shown)", str(exc), flags=re.S)
        raise TrustedPublishingFailed(f"trusted publishing: cannot get the CI's OIDC token: {clean(said, 200, *masked)}") from None
    except Exception as exc:  # noqa: BLE001 - a malformed request URL reaches urllib3 (LocationParseError, ValueError, ...)
        raise TrustedPublishingFailed(
            f"trusted publishing: cannot ask the CI for an OIDC token ({type(exc).__name__}: {clean(str(exc), 120, *masked)})"
        ) from None
    if jwt is None:
        raise NoIdentity("trusted publishing: no OIDC identity found for this CI job")
    return jwt


def _base(index: str) -> str:
    return index.rstrip("/")


def _mint_pypi(client, index: str, expected: str, env: Mapping[str, str] = os.environ) -> Minted:
    from tokenward.registries.http import host_of

    host = host_of(index)
    if not expected:
        raise TrustedPublishingFailed(
            f"trusted publishing: {host} is not pypi.org or test.pypi.org and its [trusted_publishing.index] entry names no "
            "audience ({ index = ..., audience = ... }); no OIDC token asked for"
        )
    _gitlab_id_token(expected, env)  # before any request: a GitLab job without it has no identity to send
    reply = client.request("GET", f"{_base(index)}/_/oidc/audience")
    data = reply.json_object() if reply.status == 200 else {}
    audience = data.get("audience")
    if not (isinstance(audience, str) and audience and audience.isprintable() and len(audience) <= 256):
        raise TrustedPublishingFailed(f"trusted publishing: {host} gave no audience (HTTP {reply.status} from /_/oidc/audience)")
    if audience != expected:
        raise TrustedPublishingFailed(
            f"trusted publishing: {host} announces another audience than the config's {expected!r} (the config's "
            "audience must be the one that index documents for itself); no OIDC token asked for"
        )
    jwt = _credential(expected, env)
    reply = client.request("POST", f"{_base(index)}/_/oidc/mint-token", json_body={"token": jwt})
    answer = _json_object(reply)
    token = answer.get("token")
    if reply.status == 200 and answer.get("success") is True:
        return Minted(_checked(token, "pypi-", host), "pypi", index, _expiry(answer, host))
    errors = answer.get("errors")
    codes = []
    if isinstance(errors, list):
        for error in errors[:3]:
            if isinstance(error, dict):
                code = clean(str(error.get("code", "?")), 40, jwt)
                description = clean(str(error.get("description", "")), 160, jwt)
                codes.append(f"{code} ({description})" if description else code)
    said = "; ".join(codes) or clean(str(answer.get("message") or f"HTTP {reply.status}"), 160, jwt)
    raise TrustedPublishingFailed(f"trusted publishing: {host} refused the exchange: {said}; {describe_claims(jwt)}")


def _crates_tokens_url(index: str) -> str:
    return f"{_base(index)}/api/v1/trusted_publishing/tokens"


def _mint_crates(client, index: str, audience: str, env: Mapping[str, str] = os.environ) -> Minted:
    from tokenward.registries.http import host_of

    host = host_of(index)
    _gitlab_id_token(audience, env)
    jwt = _credential(audience, env)  # crates.io's audience is its host name ("crates.io")
    reply = client.request("POST", _crates_tokens_url(index), json_body={"jwt": jwt})
    answer = _json_object(reply)
    token = answer.get("token")
    if reply.status == 200:
        return Minted(_checked(token, "cio", host), "crates", index, _expiry(answer, host))
    errors = answer.get("errors")
    details = []
    if isinstance(errors, list):
        details = [clean(str(e.get("detail", "")), 160, jwt) for e in errors[:3] if isinstance(e, dict)]
    said = "; ".join(d for d in details if d) or f"HTTP {reply.status}"
    raise TrustedPublishingFailed(f"trusted publishing: {host} refused the exchange: {said}; {describe_claims(jwt)}")


def _json_object(reply) -> dict:
    try:
        data = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _not_documented(host: str, why: str) -> TrustedPublishingFailed:
    return TrustedPublishingFailed(f"trusted publishing: {host}'s answer is not as documented ({why}); no token used")


def _checked(token: object, prefix: str, host: str) -> str:
    """The minted value, when it has the documented shape: else nothing is handed on (a
    one-letter "token" would also mask every such letter in the child's output)."""
    if not _plausible(token):
        raise _not_documented(host, "no token in it")
    assert isinstance(token, str)
    if not token.startswith(prefix) or len(token) < MIN_TOKEN:
        raise _not_documented(host, f"the token is not a {prefix}... token of at least {MIN_TOKEN} characters")
    if prefix == "pypi-":
        import pypitoken  # only when a PyPI token was minted

        try:
            pypitoken.Token.load(token)
        except Exception:  # noqa: BLE001 - pypitoken raises several types; none may carry the value
            raise _not_documented(host, "the token is not a PyPI macaroon") from None
    return token


def _expiry(answer: dict, host: str) -> int | None:
    """`expires` (epoch seconds) when given: in the future and at most MAX_LIFETIME away."""
    if "expires" not in answer or answer["expires"] is None:
        return None
    expires = answer["expires"]
    now = time.time()
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise _not_documented(host, "`expires` is not a number of seconds")
    if expires <= now:
        raise _not_documented(host, "the token has already expired")
    if expires > now + MAX_LIFETIME:
        raise _not_documented(host, f"the token would live more than {MAX_LIFETIME // 3600} hours")
    return expires


def _plausible(token: object) -> bool:
    """A value we may put in an environment variable: one printable word."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN and token.isprintable() and not any(c.isspace() for c in token)


# -- what a refusal line may say -------------------------------------------------------------


def clean(text: str, limit: int, *secrets: str) -> str:
    """Registry or provider text made safe for one line: no control characters, capped,
    and never a secret it echoes back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    text = JWT_SHAPE.sub("****", text)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def claims_of(jwt: str) -> dict:
    """The JWT's payload, decoded WITHOUT verifying it: only to say what the CI claimed."""
    try:
        payload = jwt.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _workflow(claims: dict) -> str:
    """The workflow file, as PyPI and crates.io match it: from `job_workflow_ref` /
    `workflow_ref` (GitHub) or `ci_config_ref_uri` (GitLab), else the `workflow` name."""
    for key in ("job_workflow_ref", "workflow_ref", "ci_config_ref_uri"):
        ref = claims.get(key)
        if isinstance(ref, str) and ref:
            return ref.split("@", 1)[0].rsplit("/", 1)[-1]
    value = claims.get("workflow")
    return value if isinstance(value, str) else ""


def describe_claims(jwt: str) -> str:
    claims = claims_of(jwt)
    values = {
        "repository": claims.get("repository") or claims.get("project_path"),
        "workflow": _workflow(claims),
        "environment": claims.get("environment"),
        "ref": claims.get("ref"),
    }
    shown = ", ".join(f"{key}={clean(str(values[key]), 100, jwt) if values[key] else '(none)'}" for key in CLAIMS)
    expires = claims.get("exp")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires < time.time():
        shown += f" (the OIDC token expired {int(time.time() - expires)} s ago)"
    return f"OIDC claims: {shown}"


# -- what exec says ---------------------------------------------------------------------------


def announce(minted: Minted, target: Target, now_epoch: float) -> str:
    if minted.protocol == "npm":
        return (
            f"tokens: {target.command} to {target.repository} gets no token: npm (11.5 or later) exchanges this job's "
            "OIDC identity itself (trusted publishing)"
        )
    lifetime = ""
    if minted.expires:
        minutes = max(0, int((minted.expires - now_epoch + 59) // 60))
        lifetime = f", valid {minutes} minutes"
    after = "; revoked when the command exits" if minted.protocol == "crates" else ""
    return f"tokens: minted a trusted-publishing token at {minted.host} for {target.repository}{lifetime}, not stored{after}"


def fallback_note(error: TrustedPublishingFailed) -> str:
    return f"{error}; using a stored token instead ([trusted_publishing] mode = \"prefer\")"


Warn = Callable[[str], None]
