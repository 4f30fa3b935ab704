"""A real upload server for the exec tests: pypiserver on 127.0.0.1 whose htpasswd knows
`__token__` with one token, and tiny valid sdists/wheels written on the spot."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import servers


def write_wheel(directory: Path, name: str, version: str) -> Path:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": b"",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tokenward-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def write_sdist(directory: Path, name: str, version: str) -> Path:
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n".encode()
    path = directory / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in ((f"{root}/PKG-INFO", pkg_info), (f"{root}/setup.py", b"")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@dataclass
class UploadServer:
    url: str  # the upload URL (pypiserver takes uploads at /)
    token: str  # the one value its htpasswd accepts for __token__
    packages: Path

    def has(self, filename: str) -> bool:
        return (self.packages / filename).exists()


def mint(project_names: list[str] | None = None, identifier: str = "tokenward-test") -> str:
    """A PyPI-shaped token (pypi.org macaroon) with optional project caveats."""
    import pypitoken

    token = pypitoken.Token.create(domain="pypi.org", identifier=identifier, key="tokenward-test-key")
    if project_names:
        token.restrict(project_names=project_names)
    return token.dump()


@pytest.fixture(scope="session")
def upload_server(tmp_path_factory) -> UploadServer:
    try:
        from passlib.apache import HtpasswdFile
    except ImportError:
        servers.unavailable("passlib is not installed")
    workdir = tmp_path_factory.mktemp("pypiserver")
    packages = workdir / "packages"
    packages.mkdir()
    token = mint(["tw-right", "tw-other"], identifier="the-right-one")
    htpasswd = HtpasswdFile(str(workdir / "htpasswd"), new=True, default_scheme="sha256_crypt")
    htpasswd.set_password("__token__", token)  # sha256_crypt: bcrypt would cut a long token at 72 bytes
    htpasswd.save()
    server = servers.start_pypiserver(workdir, workdir / "htpasswd", packages)
    yield UploadServer(url=server.url + "/", token=token, packages=packages)
    server.stop()
