"""Upload a big zip to a real web server and watch the server's memory.

`python -m bench.upload --mib 1024` (run from the repository root; the database is DATABASE_URL's,
by default a scratch SQLite file) makes a zip of that size (a small real export plus one stored member of random
bytes, which the importer ignores), starts `manage.py runserver --noreload` on a free port, logs in
as a staff user through the admin's login form, streams the zip to /import/ as a browser's
multipart POST (never held in memory by this client either) and samples the server process's
resident memory (/proc/PID/status) every 50 ms. It prints the server's RSS before, its peak
during the upload and its RSS after, as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOUNDARY = "----bench-upload-boundary"
CHUNK = 1024**2
USER, PASSWORD = "bench-upload", "bench-upload-2026"


def make_zip(path: Path, *, mib: int) -> None:
    """A zip of about `mib` MiB: a one-item export and a stored member of random bytes."""
    sys.path.insert(0, str(REPO))
    from tests.exports import write_export

    with tempfile.TemporaryDirectory() as folder:
        export = write_export(Path(folder), "things", [{"id": {"S": "only"}}])
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in sorted(export.rglob("*")):
                if member.is_file():
                    archive.write(member, member.relative_to(folder).as_posix())
            with archive.open("padding/random.bin", "w", force_zip64=True) as padding:
                for _ in range(mib):
                    padding.write(os.urandom(CHUNK))


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Session:
    """Cookies and CSRF of one logged-in browser session, over plain http.client."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection.request(
            method,
            path,
            body=body,  # type: ignore[arg-type]
            headers={**(headers or {}), "Cookie": cookie, "Referer": self.origin + path},
        )
        response = connection.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        text = response.read().decode("utf-8", "replace")
        connection.close()
        return response.status, text

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def csrf(self, page: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if found is None:
            raise SystemExit("no CSRF token on the page")
        return found.group(1)

    def log_in(self) -> None:
        _, page = self.request("GET", "/admin/login/?next=/import/")
        form = f"csrfmiddlewaretoken={self.csrf(page)}&username={USER}&password={PASSWORD}"
        status, _ = self.request(
            "POST",
            "/admin/login/?next=/import/",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 302:
            raise SystemExit(f"logging in failed ({status})")


def multipart(path: Path, token: str) -> tuple[Iterator[bytes], int]:
    """The upload form's body, streamed from disk, and its length."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f'{token}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; '
        f'filename="{path.name}"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        with path.open("rb") as stream:
            while block := stream.read(CHUNK):
                yield block
        yield tail

    return chunks(), len(head) + path.stat().st_size + len(tail)


def measure(zip_path: Path, var_dir: Path) -> dict[str, object]:
    # Media (the stored upload), caches and the default SQLite file go to a scratch folder.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "IMPORTER_VAR_DIR": str(var_dir),
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{var_dir / 'upload.sqlite3'}")
    var_dir.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    subprocess.run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            f"u = get_user_model().objects.filter(username='{USER}').first() or "
            f"get_user_model()(username='{USER}')\n"
            f"u.is_staff = u.is_superuser = True\nu.set_password('{PASSWORD}')\nu.save()",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = Session(port)
        for _ in range(100):
            try:
                session.request("GET", "/admin/login/")
                break
            except OSError:
                time.sleep(0.1)
        session.log_in()
        _, page = session.request("GET", "/import/")
        token = session.csrf(page)
        before = rss_kib(server.pid)
        peak = before
        sampling = True

        def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, rss_kib(server.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        body, length = multipart(zip_path, token)
        started = time.perf_counter()
        status, answer = session.request(
            "POST",
            "/import/",
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(length),
            },
        )
        seconds = time.perf_counter() - started
        sampling = False
        sampler.join()
        after = rss_kib(server.pid)
        if status != 302:
            raise SystemExit(f"the upload was refused ({status}): {answer[:500]}")
        return {
            "upload_mib": zip_path.stat().st_size / 1024**2,
            "seconds": seconds,
            "rss_before_mib": before / 1024,
            "rss_peak_mib": peak / 1024,
            "rss_after_mib": after / 1024,
        }
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=1024, help="Size of the zip, in MiB.")
    parser.add_argument("--result", type=Path, help="Write the result as JSON here too.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as folder:
        zip_path = Path(folder) / "big-export.zip"
        make_zip(zip_path, mib=args.mib)
        result = measure(zip_path, Path(folder) / "var")
    text = json.dumps(result)
    print(text)
    if args.result:
        args.result.write_text(text)


if __name__ == "__main__":
    main()
