#!/usr/bin/env bash
# Every benchmark, side by side with its peers, in one run, into benches/RESULTS.md.
#
#   bash benches/run-all.sh            # all of them (25 to 45 minutes on 2 cores, 16 GB of disk)
#   bash benches/run-all.sh load api   # some of them: load, api, memory, shards, encode
#
# Each benchmark starts its own private PostgreSQL (initdb into a temporary directory,
# default settings, fsync on) and stops it. Nothing is installed here: what is missing is
# named, and the script stops before running anything.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(load api memory shards encode)
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${all[@]}")
for bench in "${wanted[@]}"; do
  case " ${all[*]} " in *" $bench "*) ;; *) echo "run-all: no benchmark named $bench (${all[*]})" >&2; exit 64 ;; esac
done

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 ($2)"); }
bindir=$(pg_config --bindir 2>/dev/null || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  missing+=("PostgreSQL's server binaries (apt-get install postgresql)")
fi
need psql "apt-get install postgresql-client"
need pgbench "apt-get install postgresql-contrib or postgresql"
need wrk "apt-get install wrk"
need pgloader "apt-get install pgloader"
need curl "apt-get install curl"
need taskset "apt-get install util-linux"
need python3 "apt-get install python3"
[ -x /usr/bin/time ] || missing+=("GNU time (apt-get install time)")
python3 -c 'import pgpq, psycopg, pyarrow' 2>/dev/null ||
  missing+=("pgpq, psycopg and pyarrow (pip install pgpq 'psycopg[binary]' pyarrow)")
[ -d ../shared/data/air_quality ] || missing+=("../shared/data beside the repository")
if [[ " ${wanted[*]} " == *" memory "* ]]; then
  free_gb=$(df -P --block-size=1G "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $4 }')
  [ "$free_gb" -ge 16 ] || missing+=("16 GB free in ${TMPDIR:-/tmp} for the memory benchmark (${free_gb} GB free)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-all: missing, nothing was run:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 69
fi

out=benches/RESULTS.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# Benchmark results"
  echo
  echo "Written by \`bash benches/run-all.sh ${*:-}\` (do not edit by hand); each section is"
  echo "one benchmark's own output, all from this one run on this one machine."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"\
       "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) of memory, $(uname -sr)"
  echo "- PostgreSQL: $("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL) //'), default settings (fsync on), client and server on this machine"
  echo "- Rust: $(rustc --version)"
  echo "- peers: $(psql --version | head -1); $(pgbench --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2);"\
       "$(pgloader --version | head -1 | tr -d '"');"\
       "pgpq $(python3 -c 'import importlib.metadata as m; print(m.version("pgpq"))'), psycopg $(python3 -c 'import importlib.metadata as m; print(m.version("psycopg"))')"
} > "$tmp"

for bench in "${wanted[@]}"; do
  echo "run-all: cargo bench --bench $bench" >&2
  {
    echo
    echo "## \`cargo bench --bench $bench\`"
    echo
    if [ "$bench" = encode ]; then
      # criterion: its one-line estimates, not its progress.
      echo '```text'
      cargo bench --bench encode 2>/dev/null | grep -E '^[a-z_/0-9 ]+time:|thrpt:' | sed 's/  */ /g'
      echo '```'
    else
      cargo bench --bench "$bench" 2>/dev/null
    fi
  } >> "$tmp"
done
mv "$tmp" "$out"
trap - EXIT
echo "run-all: wrote $out" >&2
