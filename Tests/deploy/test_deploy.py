"""The deploy tier: checks that need no cluster and no Docker engine. The deploy issue adds the kustomize
renders, the ldd/strace package derivation and the Kamailio edge; the skeleton checks what exists."""
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
BINARY = ROOT / ".build" / "debug" / "answer-ninja"


def test_layers_are_respected():
    result = subprocess.run([str(ROOT / "tools" / "check-layers")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problems" in result.stdout


def test_dockerfile_passes_hadolint():
    result = subprocess.run([str(VENV_BIN / "hadolint"), str(ROOT / "deploy" / "docker" / "Dockerfile")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_healthcheck_and_ports_match_the_code():
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert 'CMD ["answer-ninja", "healthcheck"]' in dockerfile
    keys = json.loads(subprocess.run([str(BINARY), "config", "--keys", "--json"], capture_output=True, text=True, timeout=60, check=True).stdout)
    defaults = {entry["key"]: entry.get("default_value") for entry in keys["entries"]}
    assert f"EXPOSE {defaults['http.port']} {defaults['sip.port']}/udp {defaults['sip.port']}/tcp" in dockerfile


def test_the_image_gives_the_binary_cap_sys_nice_as_a_permitted_file_capability_only():
    """SCHED_FIFO media threads as user 10001 (Tests/PeerTests/MediaThreadsTests shows the kernel's side): the production
    stage marks the binary it installs with CAP_SYS_NICE permitted and not effective, as root before USER, and
    strips set-user-ID bits; the pods that add SYS_NICE are the ones whose threads use it (test_k8s.py)."""
    stage = (ROOT / "deploy" / "docker" / "Dockerfile").read_text().split("AS production", 1)[1]
    marks = re.findall(r"setcap (\S+) (\S+)", stage)
    assert marks == [("cap_sys_nice+p", "/usr/local/bin/answer-ninja")], marks
    assert stage.index("setcap") > stage.index("COPY --from=builder /out/ /usr/local/bin/"), "marked after the copy"
    assert stage.index("setcap") < stage.index("USER 10001"), "marked as root"
    assert "find / -xdev -perm /6000 -type f -exec chmod a-s {} +" in stage
    assert re.search(r"apt-get purge -y --auto-remove libcap2-bin", stage), "setcap is not left in the image"


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^```sh\n(.*?)\n```", readme, flags=re.S | re.M)
    assert commands and commands[0].strip().endswith("tools/serve"), commands
    assert any(block.strip() == "tools/test" for block in commands), commands
    assert "tools/test" in (ROOT / ".ci" / "run").read_text()


def test_gitignore_keeps_build_products_out():
    ignored = (ROOT / ".gitignore").read_text().split()
    for entry in (".build/", "Package.resolved", ".venv/"):
        assert entry in ignored


def test_dockerfile_builds_with_the_swift_the_package_needs_and_ci_uses():
    """The builder image's Swift can read Package.swift (its tools version) and is the release CI builds with."""
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    image = re.search(r"^FROM swift:(\d+)\.(\d+)(?:\.(\d+))?-bookworm AS builder$", dockerfile, flags=re.M)
    assert image, "the builder is an official swift:X.Y[.Z]-bookworm image"
    builder = tuple(int(part or 0) for part in image.groups())
    tools = re.match(r"// swift-tools-version:(\d+)\.(\d+)", (ROOT / "Package.swift").read_text())
    assert builder[:2] >= (int(tools.group(1)), int(tools.group(2))), f"swift {builder} cannot read tools version {tools.group(0)}"
    version = subprocess.run(["swift", "--version"], capture_output=True, text=True, timeout=60).stdout
    local = re.search(r"Swift version (\d+)\.(\d+)(?:\.(\d+))?", version)
    assert local, version
    assert builder[:2] == tuple(int(part) for part in local.groups()[:2]), f"the image builds with {builder}, CI with {local.group(0)}"


def test_dockerfile_targets_and_build_context():
    """production is the last stage (the default target); development and testing exist; the context leaves out
    build products and local state."""
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.M)
    assert stages[-1] == "production" and {"builder", "development", "testing"} <= set(stages), stages
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".build/", ".venv/", ".ci-out/", "data/"):
        assert entry in ignored
