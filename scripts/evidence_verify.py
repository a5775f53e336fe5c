#!/usr/bin/env python3
"""Check an IntelGraph evidence file offline: no Django, no database, only `cryptography` and this directory's
`audit_verify_proof.py`.

    python3 evidence_verify.py --keys-file trusted_keys access-review-acme-2026-Q4.zip

An evidence file (an access review export, an evidence bundle) is a zip of files and a signed ``manifest.json``
listing each with its SHA-256, size and the period it proves, the gaps (evidence that is missing, and why), and
the audit checkpoint its audit events' inclusion proofs lead to. This script checks that the manifest is signed
by a key YOU trust, that the zip holds exactly the files it lists (none added, none missing, none renamed), that
each file has the hash it lists, and that every audit event in a proofs file is intact, signed by a key you
trust and included in the manifest's checkpoint. Exit status 0 when everything checks, 1 with the first problem
otherwise; the gaps the manifest declares are printed, never hidden.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import zipfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audit_verify_proof as proofs

MANIFEST_FORMAT = "intelgraph.evidence-manifest"
MANIFEST_NAME = "manifest.json"
Failed = proofs.Failed


def verify_file(path: str, keys: dict) -> list[str]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise Failed(f"{path} is not a readable zip file ({exc})") from None
    with archive:
        _check_tiling(path, archive)
        names = archive.namelist()
        if MANIFEST_NAME not in names:
            raise Failed(f"{path} has no {MANIFEST_NAME}")
        try:
            manifest = json.loads(archive.read(MANIFEST_NAME))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Failed(f"{MANIFEST_NAME} is not JSON") from None
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise Failed(f"{MANIFEST_NAME} is not an {MANIFEST_FORMAT} document")
        if manifest.get("version") != 1:
            raise Failed(f"{MANIFEST_NAME} has version {manifest.get('version')!r}; this script reads version 1")
        signed = {k: v for k, v in manifest.items() if k not in ("signature", "key_id")}
        proofs.check_signature(
            proofs.canonical_json(signed), manifest.get("signature"), manifest.get("key_id"), keys, "the manifest"
        )
        entries = manifest.get("files") or []
        listed = [entry.get("name") for entry in entries]
        if len(set(names)) != len(names) or len(set(listed)) != len(listed):
            raise Failed("a file name appears twice in the zip or in the manifest")
        extra = sorted(set(names) - set(listed) - {MANIFEST_NAME})
        missing = sorted(set(listed) - set(names))
        if extra:
            raise Failed(f"the zip holds file(s) the manifest does not list (added): {', '.join(extra)}")
        if missing:
            raise Failed(f"the manifest lists file(s) the zip does not hold (removed or renamed): {', '.join(missing)}")
        checkpoint = manifest.get("checkpoint")
        size = root = None
        if checkpoint is not None:
            size, root = proofs.check_checkpoint(checkpoint, keys, "the manifest's audit checkpoint")
        events = 0
        for entry in entries:
            data = archive.read(entry["name"])
            if hashlib.sha256(data).hexdigest() != entry.get("sha256") or len(data) != entry.get("bytes"):
                raise Failed(f"{entry['name']}: its content is not the one the manifest lists (changed)")
            if entry.get("audit_proofs"):
                events += _check_proofs(entry["name"], data, keys, checkpoint, size, root)
    said = [
        f"OK: {manifest.get('kind')} evidence from {manifest.get('origin')}, made {manifest.get('created_at')}, "
        f"signed by key {manifest.get('key_id')}",
        f"  {len(entries)} file(s), each with the hash the manifest lists; {events} audit event(s) proved against "
        + (f"checkpoint {size} (root {root.hex()[:16]}…, {checkpoint.get('time')})" if checkpoint else "no checkpoint"),
    ]
    for entry in entries:
        period = (
            f" (proves {entry.get('effective_from')} to {entry.get('effective_until')})"
            if entry.get("effective_from")
            else ""
        )
        said.append(f"  - {entry['name']}: {entry.get('description', '')}{period}")
    metadata = manifest.get("metadata") or {}
    if metadata:
        said.append("  about: " + ", ".join(f"{k} {v}" for k, v in sorted(metadata.items()) if not isinstance(v, dict)))
    for gap in manifest.get("gaps") or []:
        said.append(f"  GAP: {gap.get('what')}: {gap.get('why')}")
    return said


def _check_tiling(path: str, archive: zipfile.ZipFile) -> None:
    """Every byte of the file belongs to a listed entry, the central directory or its end record: nothing is
    prepended, hidden between entries or appended, so a tool reading the zip another way (local headers in turn)
    sees exactly the bytes checked here."""
    data = Path(path).read_bytes()
    offset = 0
    for info in sorted(archive.infolist(), key=lambda i: i.header_offset):
        if info.header_offset != offset:
            raise Failed("the zip holds bytes that no listed file accounts for (hidden, prepended or overlapping data)")
        header = data[offset : offset + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise Failed(f"{info.filename}: its entry does not start where the zip's directory says")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        offset += 30 + name_length + extra_length + info.compress_size
        if info.flag_bits & 0x08:  # a data descriptor follows the data, with or without its signature
            size = 24 if info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF else 16
            offset += size if data[offset : offset + 4] == b"PK\x07\x08" else size - 4
    end = data.rfind(b"PK\x05\x06")
    if end < 0:
        raise Failed("the zip has no end of central directory record")
    entries, directory_size, directory_offset, comment_length = struct.unpack("<HIIH", data[end + 10 : end + 22])
    if end + 22 + comment_length != len(data):
        raise Failed("the zip holds bytes after its end record (appended data)")
    if directory_offset != 0xFFFFFFFF and (  # (a zip64 archive keeps these in its own record: not checked here)
        directory_offset != offset or directory_offset + directory_size != end or entries != len(archive.infolist())
    ):
        raise Failed("the zip holds bytes that no listed file accounts for (between the files and the directory)")


def _check_proofs(name: str, data: bytes, keys: dict, checkpoint, size, root) -> int:
    lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    if lines and checkpoint is None:
        raise Failed(f"{name}: audit events without the checkpoint their proofs lead to")
    for number, line in enumerate(lines, start=1):
        try:
            proof = json.loads(line)
        except json.JSONDecodeError:
            raise Failed(f"{name} line {number}: not JSON") from None
        where = f"{name} line {number}"
        try:
            proofs.verify_proof(proof, keys, None)
        except Failed as exc:
            raise Failed(f"{where}: {exc}") from None
        if proof.get("checkpoint") != checkpoint:
            raise Failed(f"{where}: proved against another checkpoint than the manifest's")
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="an evidence zip (access review export, evidence bundle)")
    parser.add_argument("--key", action="append", default=[], help="a trusted Ed25519 public key, 64 hex digits")
    parser.add_argument("--keys-file", action="append", default=[], help="a file of trusted public keys")
    args = parser.parse_args(argv)
    try:
        said = verify_file(args.file, proofs.load_keys(args.key, args.keys_file))
    except Failed as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    except (
        OSError,
        KeyError,
        TypeError,
        ValueError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        zlib.error,
        zipfile.BadZipFile,
    ) as exc:  # a damaged, encrypted or otherwise unreadable zip
        print(f"NOT VERIFIED: cannot read the input ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print("\n".join(said))
    return 0


if __name__ == "__main__":
    sys.exit(main())
