# Sourced by scripts/demo and scripts/test: make .venv if missing, (re)install nutx when pyproject changes.
# Usage: ensure_venv EXTRAS   (EXTRAS is "" or "test")
ensure_venv() {
    local extras="$1" spec="." stamp
    [ -n "$extras" ] && spec=".[$extras]"
    stamp=".venv/.installed${extras:+-$extras}"
    if [ ! -x .venv/bin/python ]; then
        echo "creating .venv" >&2
        python3 -m venv .venv
        .venv/bin/pip install -q --upgrade pip >&2
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "installing nutx${extras:+ with $extras extras} into .venv" >&2
        if ! .venv/bin/pip install -q -e "$spec" > .venv/install.log 2>&1; then
            cat .venv/install.log >&2
            echo "installing nutx failed (log above, also in .venv/install.log)" >&2
            return 1
        fi
        touch "$stamp"
    fi
}
