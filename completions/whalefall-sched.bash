_whalefall_sched_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _WHALEFALL_SCHED_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _whalefall_sched_completion whalefall-sched
