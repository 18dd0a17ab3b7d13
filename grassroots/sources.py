"""The sources registry: where the deliveries are pulled from, and an fsspec filesystem for each.

A source is a facility's front-end server (前置机, SFTP), a bucket on an S3-compatible object
store (OSS, COS, OBS, MinIO) or a local folder (an NFS mount, a chrooted SFTP upload area on the
host), with the pattern of its delivery folders::

    sources:
      - name: h330102001-frontend          # unique; the audit tables and the report use it
        protocol: sftp                     # local | sftp | s3
        conn_id: grassroots_sftp_h330102001  # Airflow connection (host, port, login, key)
        path: /outbox/{business_date}      # {business_date}; {facility_code} unless one facility
        facilities: [H330102001]           # codes (or fnmatch patterns) it may deliver ["*"]
      - name: city-cloud
        protocol: s3
        conn_id: grassroots_s3_city        # key, secret; extra endpoint_url, region_name
        path: gov-bucket/landing/extracts/{business_date}/{facility_code}
        reference: gov-bucket/landing/reference   # optional: the commission's reference files

The registry is ``dags/sources.yml`` (it configures what the DAG pulls, and ships with it), or
the file named by ``GRASSROOTS_SOURCES``.  Secrets never go in it: a source names an Airflow
connection, which Airflow keeps encrypted in its metadata database or reads from an
``AIRFLOW_CONN_<ID>`` environment variable (``.env``); both work outside Airflow too.

One code path for the three protocols: fsspec, with ``sshfs`` (asyncssh) for SFTP and ``s3fs``
for S3.  ``grassroots run --landing s3://bucket/prefix`` builds a source from the URL alone.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from grassroots.errors import RunError
from grassroots.settings import REPO

DEFAULT_REGISTRY = REPO / "dags" / "sources.yml"
PROTOCOLS = ("local", "sftp", "s3")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")
# what a placeholder may match in a path: never a separator, never a dot-dot
_PART = {"business_date": r"(?P<business_date>\d{4}-\d{2}-\d{2})",
         "facility_code": r"(?P<facility_code>[A-Za-z0-9][A-Za-z0-9_-]*)"}


class RegistryError(RunError):
    """The sources registry cannot be used as it is."""


@dataclass(frozen=True)
class Source:
    name: str
    protocol: str
    path: str
    conn_id: str | None = None
    facilities: tuple[str, ...] = ("*",)
    reference: str | None = None
    # options for fsspec when the source comes from a URL (`grassroots run --landing URL`)
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def covers(self, facility_code: str) -> bool:
        return any(fnmatch.fnmatchcase(facility_code, p) for p in self.facilities)

    def glob(self, business_date: date | None) -> str:
        """The glob of the manifests of this source's folders (of one business date or all)."""
        bd = business_date.isoformat() if business_date else "*"
        return self.path.format(business_date=bd, facility_code="*") + "/manifest.json"

    def match(self, manifest_path: str) -> tuple[date, str] | None:
        """(business_date, facility_code) of a folder found by :meth:`glob`, or None."""
        parts = re.split(r"(\{business_date\}|\{facility_code\})", self.path)
        pattern = "".join(_PART[p[1:-1]] if p[1:-1] in _PART and p[0] == "{" else re.escape(p)
                          for p in parts if p)
        m = re.fullmatch(pattern + "/manifest.json", manifest_path.rstrip("/"))
        if m is None:
            return None
        try:
            bd = date.fromisoformat(m.group("business_date"))
        except ValueError:
            return None
        code = m.groupdict().get("facility_code") or self.facilities[0]
        return bd, code

    def to_dict(self) -> dict:
        d = asdict(self)
        d["facilities"] = list(self.facilities)
        return d

    @classmethod
    def from_dict(cls, d: dict | Source) -> Source:
        if isinstance(d, Source):
            return d
        return parse_source(d)


def parse_source(entry: object, where: str = "source") -> Source:
    """One registry entry, checked; RegistryError naming what is wrong."""
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: not a mapping")
    unknown = set(entry) - {"name", "protocol", "conn_id", "path", "facilities", "reference",
                            "options"}
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RegistryError(f"{where}: name {name!r} must be letters, digits, . _ - (≤ 63)")
    where = f"source {name}"
    protocol, path = entry.get("protocol"), entry.get("path")
    if protocol not in PROTOCOLS:
        raise RegistryError(f"{where}: protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if not isinstance(path, str) or "{business_date}" not in path:
        raise RegistryError(f"{where}: path must be a string with {{business_date}}")
    names = _PLACEHOLDER.findall(path)
    if set(names) - set(_PART) or len(names) != len(set(names)):
        raise RegistryError(f"{where}: path may use {{business_date}} and {{facility_code}}, "
                            "each once")
    facilities = entry.get("facilities", ["*"])
    if isinstance(facilities, str):
        facilities = [facilities]
    if not facilities or not all(isinstance(f, str) and f for f in facilities):
        raise RegistryError(f"{where}: facilities must be a list of codes or patterns")
    if "facility_code" not in names and (len(facilities) != 1 or
                                         any(c in facilities[0] for c in "*?[")):
        raise RegistryError(f"{where}: a path without {{facility_code}} needs exactly one "
                            "facility code in facilities")
    conn_id = entry.get("conn_id")
    if protocol != "local" and not entry.get("options") and not isinstance(conn_id, str):
        raise RegistryError(f"{where}: protocol {protocol} needs a conn_id")
    return Source(name=name, protocol=protocol, path=path.rstrip("/"), conn_id=conn_id,
                  facilities=tuple(facilities), reference=entry.get("reference"),
                  options=dict(entry.get("options") or {}))


def registry_path() -> Path:
    return Path(os.environ.get("GRASSROOTS_SOURCES") or DEFAULT_REGISTRY)


def load_registry(path: Path | None = None) -> list[Source]:
    """The registered sources (none when the file does not exist: the landing zone is then
    filled by other means, as in the demo)."""
    import yaml

    path = Path(path or registry_path())
    if not path.is_file():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise RegistryError(f"cannot read the sources registry {path}: {e}") from e
    entries = doc.get("sources") if isinstance(doc, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RegistryError(f"{path}: sources must be a list")
    out = [parse_source(e, f"{path}: source #{i + 1}") for i, e in enumerate(entries)]
    dup = {s.name for s in out if sum(t.name == s.name for t in out) > 1}
    if dup:
        raise RegistryError(f"{path}: source names used twice: {sorted(dup)}")
    return out


def source_from_url(url: str) -> Source:
    """A whole landing zone at an fsspec URL (``s3://bucket/prefix``, ``sftp://user@host/dir``,
    ``file:///dir``): its extracts and its reference files.  Credentials come from the
    environment the URL's library reads (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, …; the
    SSH agent or ``~/.ssh``)."""
    from fsspec.core import split_protocol

    scheme, _ = split_protocol(url)
    protocol = {"s3": "s3", "s3a": "s3", "sftp": "sftp", "ssh": "sftp", "file": "local",
                None: "local"}.get(scheme)
    if protocol is None:
        raise RegistryError(f"--landing {url}: protocol {scheme} is not one of s3, sftp, file")
    from fsspec.core import url_to_fs

    _, root = url_to_fs(url)
    root = root.rstrip("/")
    return Source(name="landing", protocol=protocol,
                  path=f"{root}/extracts/{{business_date}}/{{facility_code}}",
                  reference=f"{root}/reference", options={"url": url})


# ---------------------------------------------------------------------------------------------
# Connections → fsspec filesystems


def get_connection(conn_id: str):
    """The Airflow connection (metadata database, secrets backend or ``AIRFLOW_CONN_<ID>``)."""
    from airflow.sdk import Connection

    try:
        return Connection.get(conn_id)
    except Exception as e:  # AirflowNotFoundException, or no metadata database outside Airflow
        raise RegistryError(f"connection {conn_id!r} is not defined: add it in Airflow or as "
                            f"AIRFLOW_CONN_{conn_id.upper()} in the environment ({e})") from e


def _sftp_options(conn) -> dict[str, Any]:
    import asyncssh

    extra = conn.extra_dejson
    opts: dict[str, Any] = {"host": conn.host, "port": int(conn.port or 22),
                            "username": conn.login, "connect_timeout": 20}
    if conn.password:
        opts["password"] = conn.password
    keys = []
    if extra.get("key_file"):
        keys.append(extra["key_file"])
    if extra.get("private_key"):
        keys.append(asyncssh.import_private_key(extra["private_key"],
                                                extra.get("private_key_passphrase")))
    if keys:
        opts["client_keys"] = keys
    # the server's host key: checked unless explicitly switched off (sshfs's own default is not
    # to check; () is asyncssh's: ~/.ssh/known_hosts, or trust nothing)
    opts["known_hosts"] = ()
    if str(extra.get("no_host_key_check", "")).lower() == "true":
        opts["known_hosts"] = None
    elif extra.get("host_key"):
        key = extra["host_key"].strip()
        if " " not in key:  # Airflow's SSH convention: the base64 of an ssh-rsa key
            key = f"ssh-rsa {key}"
        host = conn.host if int(conn.port or 22) == 22 else f"[{conn.host}]:{conn.port}"
        opts["known_hosts"] = asyncssh.import_known_hosts(f"{host} {key}\n")
    elif extra.get("known_hosts"):
        opts["known_hosts"] = extra["known_hosts"]
    return opts


def _s3_options(conn) -> dict[str, Any]:
    extra = conn.extra_dejson
    opts: dict[str, Any] = {"key": conn.login or extra.get("aws_access_key_id"),
                            "secret": conn.password or extra.get("aws_secret_access_key")}
    client: dict[str, Any] = {}
    endpoint = extra.get("endpoint_url") or (conn.host and (
        conn.host if "://" in conn.host else f"https://{conn.host}"))
    if endpoint:
        client["endpoint_url"] = endpoint
    if extra.get("region_name"):
        client["region_name"] = extra["region_name"]
    if client:
        opts["client_kwargs"] = client
    if extra.get("addressing_style"):  # OSS wants virtual, MinIO path
        opts["config_kwargs"] = {"s3": {"addressing_style": extra["addressing_style"]}}
    return opts


def filesystem(source: Source):
    """A fresh fsspec filesystem for the source (never a cached one: a server that went down
    and came back must be reached anew)."""
    import fsspec

    if source.options.get("url"):
        from fsspec.core import url_to_fs

        fs, _ = url_to_fs(source.options["url"], skip_instance_cache=True)
        return fs
    if source.protocol == "local":
        return fsspec.filesystem("file", skip_instance_cache=True)
    conn = get_connection(source.conn_id or "")
    if source.protocol == "sftp":
        return fsspec.filesystem("sftp", skip_instance_cache=True, **_sftp_options(conn))
    return fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False,
                             **_s3_options(conn))


def close(fs) -> None:
    """Close an SFTP filesystem's connection now rather than at garbage collection."""
    finalize = getattr(type(fs), "_finalize", None)
    if finalize is not None and hasattr(fs, "_pool") and hasattr(fs, "_stack"):
        try:
            finalize(fs.loop, fs._pool, fs._stack)
        except Exception as e:  # closing is best effort: the pull itself is done
            import logging

            logging.getLogger(__name__).debug("closing %s: %s", fs, e)


def describe(source: Source) -> str:
    """Where the source is, for the audit and the report (never a credential)."""
    if source.options.get("url"):
        from fsspec.core import split_protocol

        scheme, rest = split_protocol(source.options["url"])
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}" if scheme else rest
    root = source.path.split("{", 1)[0]  # up to the first placeholder
    if source.protocol == "local":
        return f"file://{root}"
    return f"{source.protocol}://{source.conn_id}/{root.lstrip('/')}"
