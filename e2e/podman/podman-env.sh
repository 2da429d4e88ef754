# Sourced by the scripts here: use the podman settings beside this file unless the caller chose
# others (CONTAINERS_CONF) or runc is missing (then podman's own defaults apply).
# shellcheck shell=bash
if [[ -z ${CONTAINERS_CONF:-} ]] && command -v runc >/dev/null 2>&1; then
  CONTAINERS_CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf"
  export CONTAINERS_CONF
fi
