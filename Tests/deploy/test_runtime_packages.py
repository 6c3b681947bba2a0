"""The production image's runtime packages, derived from the binary without a Docker engine (deploy issue):

- the libraries the binary links (`readelf` NEEDED, resolved through `ldconfig`) come from packages the production
  stage installs (or the slim base image has);
- `ldd` resolves every library, and only the Swift runtime comes from the toolchain (the image links it statically:
  `--static-swift-stdlib`);
- what a `selftest` run opens or looks at (`strace -f`), outside the build tree, belongs to those packages too, and
  what it reads from the build tree is a SwiftPM resource bundle that the image copies beside the binary.

The binary checked is the debug build the test tiers use: the same targets, C modules and resources as the release
build the Dockerfile makes."""
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "debug" / "answer-ninja"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
# What debian:bookworm-slim has already (apt itself needs them).
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
# The Swift runtime and Foundation, linked statically in the image.
SWIFT_RUNTIME = re.compile(r"^lib(swift|Foundation|_Foundation|dispatch|BlocksRuntime|_Testing|Testing|XCTest)")


def production_packages():
    """The packages `apt-get install` adds in the production stage."""
    stage = DOCKERFILE.read_text().split("AS production", 1)[1]
    install = re.search(r"apt-get install -y --no-install-recommends (.*?)\s*\\\s*\n\s*&& rm", stage, flags=re.S).group(1)
    return set(install.replace("\\\n", " ").split())


def package_of(path):
    """The Debian package owning `path` (its real path, with and without the /usr merge), or None."""
    real = os.path.realpath(path)
    candidates = {path, real}
    for name in list(candidates):
        if name.startswith("/lib"):
            candidates.add("/usr" + name)
        if name.startswith("/usr/lib"):
            candidates.add(name[4:])
    for candidate in candidates:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    return None


def library_paths():
    """ldconfig's cache: library file name → path."""
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths = {}
    for line in cache.splitlines():
        match = re.match(r"\s*(\S+) \(libc6,x86-64[^)]*\) => (\S+)", line)
        if match and match.group(1) not in paths:
            paths[match.group(1)] = match.group(2)
    return paths


def test_the_linked_libraries_come_from_the_production_packages():
    dynamic = subprocess.run(["readelf", "-d", str(BINARY)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    system = [name for name in needed if not SWIFT_RUNTIME.match(name)]
    assert "libsrtp2.so.1" in system and "libpocketsphinx.so.3" in system, needed
    paths = library_paths()
    packages = {}
    for name in system:
        assert name in paths, f"{name} is not in ldconfig's cache"
        packages[name] = package_of(paths[name])
    allowed = production_packages() | BASE
    missing = {name: package for name, package in packages.items() if package not in allowed}
    assert not missing, f"linked libraries whose packages the production stage does not install: {missing}"


def test_ldd_resolves_everything_and_only_the_swift_runtime_comes_from_the_toolchain():
    output = subprocess.run(["ldd", str(BINARY)], capture_output=True, text=True, check=True).stdout
    assert "not found" not in output, output
    for line in output.splitlines():
        match = re.match(r"\s*(\S+) => (\S+)", line)
        if not match:
            continue
        name, path = match.groups()
        if SWIFT_RUNTIME.match(name):
            continue
        assert path.startswith(("/lib/", "/usr/lib/")), f"{name} resolves outside the system libraries: {path}"


def test_what_selftest_opens_is_in_the_image(tmp_path):
    trace = tmp_path / "trace"
    run = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=openat,newfstatat,statx,access", "-o", str(trace), str(BINARY), "selftest", "--json",
         "--scratch", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    build = str(ROOT / ".build")
    seen = set()
    for line in trace.read_text().splitlines():
        if "= -1" in line:
            continue  # looked for and not there: not needed
        match = re.search(r'"(/[^"]*)"', line)
        if match:
            seen.add(match.group(1))
    bundles = {re.match(r".*/([^/]+\.resources)", path).group(1) for path in seen if path.startswith(build) and ".resources" in path}
    assert "answer-ninja_Store.resources" in bundles, "the migrations are read from their bundle"
    dockerfile = DOCKERFILE.read_text()
    # The image copies every resource bundle of the build beside the binary (Bundle.module looks there).
    assert re.search(r"cp -R .*\*\.resources /out/", dockerfile), "the builder stage copies the resource bundles"
    assert "COPY --from=builder /out/ /usr/local/bin/" in dockerfile
    allowed = production_packages() | BASE
    foreign = {}
    for path in sorted(seen):
        if path.startswith((build, str(tmp_path), "/proc", "/sys", "/dev", "/tmp")) or path.endswith(".so") or ".so." in path:
            continue
        if not os.path.exists(path) or path in ("/", "/etc", "/usr", "/usr/share"):
            continue
        package = package_of(path)
        if package is not None and package not in allowed:
            foreign[path] = package
    assert not foreign, f"selftest uses files of packages the production stage does not install: {foreign}"
    # The speech model the assistant needs is among what it checked.
    assert any(path.startswith("/usr/share/pocketsphinx/model/en-us") for path in seen), sorted(seen)
