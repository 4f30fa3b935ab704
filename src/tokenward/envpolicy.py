"""Which variables a token's env template may set in the child of `tokens exec`.

The rule is an allowlist: a template may set (a) a variable whose template contains
`{value}` (it carries the token) and whose name is on none of the denylists below, or
(b) a known username variable of a publish tool to a plain constant. Anything else needs
`--allow-env VAR` on that command. A variable that changes where a tool sends the token
(repository URLs, proxies, CA bundles, TLS settings, tool config files and homes) is never
unlocked (see below).

A template (`tokens add --env VAR=TEMPLATE`, a JSON import's `env`, anything a shared
store or an inventory file carries) is data someone else may have written. Variables
that make the child run or load code of someone's choosing (`BASH_ENV`, `LD_PRELOAD`,
`PYTHONPATH`, `NODE_OPTIONS`, `GIT_SSH_COMMAND`, ...), or that move the config files a
tool reads (which can run code too: git's `core.pager`, npm's `script-shell`), are
refused unless the user allows that variable by name for the one command
(`--allow-env VAR`). Names are compared case-insensitively: npm reads
`npm_config_*` and `NPM_CONFIG_*` alike.

Variables that change where a publish tool sends the token (`UV_PUBLISH_URL`,
`TWINE_REPOSITORY_URL`, `NPM_CONFIG_REGISTRY`, `CARGO_REGISTRIES_*_INDEX`, ...) or who can
read it on the way (`HTTPS_PROXY`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `*_CA_*`) are
refused in every template, and `--allow-env` cannot unlock them: `tokens exec` chooses the
token for the destination it resolves, and must not hand it to one a template moved.
(A proxy or CA bundle in the user's own environment is the user's choice and is left alone.)
Variables that move the config files the tools read (`HOME`, `XDG_CONFIG_HOME`) stay
unlockable; exec then resolves the destination again from the child's final environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tokenward.errors import UsageError

# Exact names -> what they do.
_EXACT: dict[str, str] = {
    "BASH_ENV": "bash runs the file it names",
    "ENV": "sh runs the file it names",
    "SHELLOPTS": "changes how bash runs scripts",
    "BASHOPTS": "changes how bash runs scripts",
    "PS4": "bash expands it (and runs command substitutions) when tracing",
    "PROMPT_COMMAND": "bash runs it",
    "IFS": "changes how shells split commands",
    "ZDOTDIR": "zsh reads its startup files from there",
    "PATH": "chooses which programs run",
    "HOME": "moves every config file a tool reads",
    "XDG_CONFIG_HOME": "moves the config files a tool reads",
    "NODE_OPTIONS": "node loads the modules it names (--require)",
    "NODE_PATH": "node loads modules from there",
    "NODE_REPL_EXTERNAL_MODULE": "node loads that module",
    "PERL5OPT": "perl runs its options (-M)",
    "PERL5LIB": "perl loads modules from there",
    "PERLLIB": "perl loads modules from there",
    "PERL5DB": "perl runs it as the debugger",
    "RUBYOPT": "ruby runs its options (-r)",
    "RUBYLIB": "ruby loads code from there",
    "JAVA_TOOL_OPTIONS": "the JVM loads agents it names",
    "_JAVA_OPTIONS": "the JVM loads agents it names",
    "JDK_JAVA_OPTIONS": "the JVM loads agents it names",
    "CLASSPATH": "the JVM loads classes from there",
    "RUSTC": "cargo runs it as the compiler",
    "RUSTC_WRAPPER": "cargo runs it",
    "RUSTC_WORKSPACE_WRAPPER": "cargo runs it",
    "RUSTDOC": "cargo runs it",
    "SSH_ASKPASS": "ssh runs it",
    "EDITOR": "tools run it",
    "VISUAL": "tools run it",
    "PAGER": "tools run it",
    "MANPAGER": "tools run it",
    "BROWSER": "tools run it",
    "LESSOPEN": "less runs it",
    "LESSCLOSE": "less runs it",
    "GCONV_PATH": "glibc loads modules from there",
}
# Prefixes -> what variables starting with them do.
_PREFIXES: dict[str, str] = {
    "BASH_FUNC_": "bash imports it as a function",
    "LD_": "the dynamic loader reads it (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...)",
    "DYLD_": "the macOS loader reads it",
    "PYTHON": "Python reads it at startup (PYTHONSTARTUP, PYTHONPATH, PYTHONWARNINGS imports, ...)",
    "GIT_": "git runs or reads what it names (GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_CONFIG_*, ...)",
    "NPM_CONFIG_": "sets any npm option (script-shell, node-options, userconfig, registry)",
    "CARGO_TARGET_": "cargo runs the programs it names (runner, linker)",
    "CARGO_BUILD_": "cargo runs the programs it names (rustc, rustc-wrapper)",
}


# The variables that hand a tool its credentials: never destination-changing.
_CREDENTIALS = {
    "TWINE_USERNAME", "TWINE_PASSWORD", "UV_PUBLISH_TOKEN", "UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD",
    "HATCH_INDEX_USER", "HATCH_INDEX_AUTH", "PDM_PUBLISH_USERNAME", "PDM_PUBLISH_PASSWORD", "FLIT_USERNAME",
    "FLIT_PASSWORD", "CARGO_REGISTRY_TOKEN", "NPM_CONFIG__AUTHTOKEN", "NPM_CONFIG__AUTH", "NPM_CONFIG__PASSWORD",
    "NPM_CONFIG_USERNAME", "NPM_CONFIG_OTP",
}  # fmt: skip
_CREDENTIAL_PREFIXES = ("POETRY_PYPI_TOKEN_", "POETRY_HTTP_BASIC_")
# Unlockable with --allow-env (they run code, listed in _EXACT); exec then resolves the
# destination again from the child's final environment.
_RESOLVED_AGAIN = {"HOME", "XDG_CONFIG_HOME"}
# Variables that change where a tool sends the token, whom it trusts on the way, or which
# config file (and so which repository URL) it reads.
_DEST_EXACT: dict[str, str] = {
    **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY"), "sends the traffic through a proxy"),
    **dict.fromkeys(("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
                     "NODE_TLS_REJECT_UNAUTHORIZED"), "changes which servers the tool trusts"),
    "SSLKEYLOGFILE": "TLS session keys are written there (the traffic can be decrypted)",
    "XDG_CONFIG_DIRS": "moves the system config files a tool reads (uv's publish-url)",
    "CARGO_HOME": "moves cargo's config (its registries)",
    "GH_HOST": "changes which host gh talks to",
    "GH_REPO": "changes which repository gh talks to",
    "NETRC": "moves the netrc file a tool reads credentials and hosts from",
    "DOCKER_HOST": "docker talks to that daemon",
}  # fmt: skip
_DEST_PREFIXES: dict[str, str] = {
    "TWINE_": "twine reads its repository from it",
    "UV_": "uv reads its publish URL, index or config from it",
    "POETRY_": "poetry reads its repositories and config from it",
    "HATCH_": "hatch reads its repository and config from it",
    "PDM_": "pdm reads its repository and config from it",
    "FLIT_": "flit reads its index from it",
    "NPM_CONFIG_": "npm reads its registry from it",
    "CARGO_REGISTRIES_": "cargo reads its registries from it",
    "CARGO_REGISTRY_": "cargo reads its default registry from it",
    "CARGO_HTTP_": "cargo's TLS and proxy settings",
    "PIP_": "pip reads its indexes and config from it",
    "OPENSSL_": "OpenSSL loads that config (and the engines it names)",
    "SSL": "TLS trust and key settings",
    "CURL_": "curl's CA and config settings",
}
# Substrings of a name -> what such variables do.
_DEST_PARTS: dict[str, str] = {
    "PROXY": "sends the traffic through a proxy",
    "_CA_": "changes which servers the tool trusts",
    "_CERT": "changes which servers the tool trusts or which certificate it presents",
    "_CONFIG": "moves the config file a tool reads (and the repository URL in it)",
}
# Suffixes -> what such variables do.
_DEST_SUFFIXES: dict[str, str] = {
    "_HOME": "moves the tool's home (its config files and credentials)",
    "_URL": "the tool talks to that URL",
    "_HOST": "the tool talks to that host",
}
# Username variables of publish tools: a plain constant here carries nothing and moves nothing.
_USERNAMES = {"TWINE_USERNAME", "UV_PUBLISH_USERNAME", "HATCH_INDEX_USER", "FLIT_USERNAME", "PDM_PUBLISH_USERNAME"}


def runs_code(var: str) -> str | None:
    """Why setting `var` lets whoever chose its value run code in the child, or None."""
    name = var.upper()
    if name in _EXACT:
        return _EXACT[name]
    for prefix, reason in _PREFIXES.items():
        if name.startswith(prefix):
            return reason
    return None


def changes_destination(var: str) -> str | None:
    """Why setting `var` may move where a publish tool sends the token, or who sees it on
    the way; None for the tools' own credential variables and everything else."""
    name = var.upper()
    if name in _CREDENTIALS or name.startswith(_CREDENTIAL_PREFIXES) or name in _RESOLVED_AGAIN:
        return None
    if name.startswith("CARGO_REGISTRIES_") and name.endswith("_TOKEN"):
        return None  # carries the token; CARGO_REGISTRIES_<NAME>_INDEX is what moves it
    if name in _DEST_EXACT:
        return _DEST_EXACT[name]
    if "_CA_" in f"_{name}_":
        return "changes which servers the tool trusts"
    for prefix, reason in _DEST_PREFIXES.items():
        if name.startswith(prefix):
            return reason
    for part, reason in _DEST_PARTS.items():
        if part in name:
            return reason
    for suffix, reason in _DEST_SUFFIXES.items():
        if name.endswith(suffix):
            return reason
    return None


def _is_poetry_username(name: str) -> bool:
    return name.startswith("POETRY_HTTP_BASIC_") and name.endswith("_USERNAME") and len(name) > len("POETRY_HTTP_BASIC__USERNAME")


def is_username(var: str) -> bool:
    name = var.upper()
    return name in _USERNAMES or _is_poetry_username(name)


def refusal(var: str, template: str) -> tuple[str, str] | None:
    """(class, reason) when setting `var` to `template` needs `--allow-env var`, else None.

    class is "destination", "code" or "other"."""
    reason = changes_destination(var)
    if reason is not None:
        return "destination", reason
    reason = runs_code(var)
    if reason is not None:
        return "code", reason
    if "{value}" in template:
        return None
    if is_username(var) and "{" not in template and "$" not in template:
        return None
    return "other", "it neither carries the token ({value}) nor is a publish tool's username"


def check_templates(templates: Mapping[str, str], allowed: Iterable[str] = (), *, owner: str = "") -> None:
    """Refuse a template that moves the token (always), or that is outside the allowlist and
    not allowed by name."""
    allow = {a.upper() for a in allowed}
    whose = f"{owner}'s env template" if owner else "an env template"
    for var in sorted(templates):
        found = refusal(var, templates[var])
        if found is None:
            continue
        kind, reason = found
        if kind == "destination":
            raise UsageError(
                f"{whose} sets {var}, which can change where the token is sent ({reason}); refused, and --allow-env "
                "cannot allow it (a setting in your own environment is read by tokens exec instead)"
            )
        if var.upper() in allow:
            continue
        what = "which makes the command run code" if kind == "code" else "which is not on the list a template may set"
        raise UsageError(
            f"{whose} sets {var}, {what} ({reason}); refused unless you allow it for this command with --allow-env {var}"
        )


def check_allow_names(allowed: Iterable[str]) -> tuple[str, ...]:
    """`--allow-env` takes variable names, not assignments."""
    names = tuple(allowed)
    for name in names:
        if not name or "=" in name or not name.replace("_", "a").isalnum():
            raise UsageError(f"--allow-env {name!r}: give a variable name, e.g. --allow-env PYTHONPATH")
    return names
