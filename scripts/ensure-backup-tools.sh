#!/usr/bin/env bash
# Make sure the programs Barman calls besides PostgreSQL's own are installed: rsync (copies the base backup
# and WAL into a restore) and GnuPG (encrypts backups and WAL; ADR 0011). Installs Debian's packages when
# they are missing and we are root on Debian; elsewhere it says what to install and fails.
set -euo pipefail
missing=()
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} for the backups (apt-get) …"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "the backups need ${missing[*]}: install them with your system's package manager" >&2
exit 1
