# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for ntsctl

_ntsctl () {
  local cur prev words cword
  _init_completion || return

  local global='--json --no-ask-password --help'
  local commands='status preview apply verify rollback snapshots probe'
  local -A opts=(
    [status]=''
    [preview]='--server --min-sources'
    [apply]='--server --min-sources --install --no-preflight --wait-sync --allow-clock-far-off'
    [verify]='--wait --probe'
    [rollback]='--force'
    [snapshots]=''
    [probe]='--port --ca'
  )

  local i command=
  for ((i = 1; i < cword; i++)); do
    if [[ -n ${opts[${words[i]}]+set} ]]; then
      command=${words[i]}
      break
    fi
  done

  case $prev in
    --server|--min-sources|--wait-sync|--wait|--port)
      # a host name or a number: nothing to offer
      return ;;
    --ca)
      _filedir
      return ;;
  esac

  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$global --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return
  fi

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${opts[$command]} $global" -- "$cur"))
  elif [[ $command == rollback ]]; then
    # Snapshot ids, from the service (a read-only call).
    local ids
    ids=$(ntsctl --no-ask-password snapshots 2>/dev/null | awk 'NR > 1 { print $1 }')
    COMPREPLY=($(compgen -W "$ids" -- "$cur"))
  fi
} &&
complete -F _ntsctl ntsctl
