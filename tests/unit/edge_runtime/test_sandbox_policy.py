"""The worker sandbox's pure rules (SPEC.md §10): environment allow-list, Node.js flags, refused grants."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_protocol.sandbox import SandboxRequest
from edge_runtime.sandbox import SandboxRefused, check_grants, permission_flags, scratch_dir_for, worker_environment

HOST = {
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C",
    "TZ": "UTC",
    "HTTPS_PROXY": "http://proxy:3128",
    "NO_PROXY": "localhost",
    "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
    "SSL_CERT_DIR": "/etc/ssl/certs",
    "DEPLOYMENT_SECRET": "s3cret-value",
    "DEPLOYMENT_ID": "dep",
    "AUTH_TOKEN_PATH": "/i/auth-token.json",
    "EDGE_CONNECTOR_TOKEN": "tok",
    "HOME": "/root",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "MY_BASE": "https://x",
}


def test_the_environment_is_an_allow_list_with_home_at_scratch():
    env = worker_environment(HOST, SandboxRequest(), Path("/i/.scratch/b"))
    assert env == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "TZ": "UTC",
        "HTTPS_PROXY": "http://proxy:3128",
        "NO_PROXY": "localhost",
        "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
        "SSL_CERT_DIR": "/etc/ssl/certs",
        "HOME": "/i/.scratch/b",
        "TMPDIR": "/i/.scratch/b",
    }


def test_env_passes_named_host_variables_and_secrets_in_env_but_never_credentials():
    # A manifest written by hand could list reserved names; the runtime drops them whatever it says.
    request = SandboxRequest(env=("MY_BASE", "UNSET_ONE", "DEPLOYMENT_SECRET"), secrets_in_env=("API_KEY", "NOT_SET"))
    env = worker_environment(HOST, request, Path("/s"), {"API_KEY": "k", "OTHER": "o"})
    assert env["MY_BASE"] == "https://x" and env["API_KEY"] == "k"
    assert not {"UNSET_ONE", "DEPLOYMENT_SECRET", "OTHER", "NOT_SET", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_flags_read_the_bundle_write_the_scratch_and_grant_what_is_asked():
    plain = permission_flags(Path("/i/.bundles/x"), Path("/i/.scratch/b"), Path("/py/host.mjs"), SandboxRequest())
    assert plain == [
        "--permission",
        "--allow-fs-read=/i/.bundles/x/*",
        "--allow-fs-read=/i/.scratch/b",
        "--allow-fs-read=/py/host.mjs",
        "--allow-fs-write=/i/.scratch/b",
    ]
    request = SandboxRequest.from_wire(
        {
            "permissions": {
                "fsRead": ["/data"],
                "fsWrite": ["/out"],
                "childProcess": True,
                "workerThreads": True,
                "addons": True,
                "wasi": True,
            }
        }
    )
    flags = permission_flags(Path("/b"), Path("/s"), Path("/h"), request, {"NODE_EXTRA_CA_CERTS": "/ca.pem"})
    for flag in (
        "--allow-fs-read=/data",
        "--allow-fs-read=/ca.pem",
        "--allow-fs-write=/out",
        "--allow-child-process",
        "--allow-worker",
        "--allow-addons",
        "--allow-wasi",
    ):
        assert flag in flags


@pytest.mark.parametrize("granted", ["/i", "/i/auth-token.json", "/", "/i/.bundles"])
def test_a_grant_touching_the_installation_directory_is_refused(granted):
    request = SandboxRequest.from_wire({"permissions": {"fsRead": [granted]}})
    with pytest.raises(SandboxRefused, match="permissions.fsRead grants"):
        check_grants(request, [Path("/i")])


def test_grants_beside_the_installation_directory_pass():
    check_grants(SandboxRequest.from_wire({"permissions": {"fsRead": ["/data"], "fsWrite": ["/in"]}}), [Path("/i")])


def test_scratch_dirs_are_one_per_bundle_name_and_path_safe():
    assert scratch_dir_for(Path("/r"), "@team/tools") == Path("/r/team-tools")
    assert scratch_dir_for(Path("/r"), "my-tools") == Path("/r/my-tools")
