#!/usr/bin/env bash
# The main job: builds reftx and demonstrates it on a scratch repository (journal embedded in
# the repository's git dir): a multi-ref transaction, a rejected one, one interrupted by a crash
# point, `reftx recover`, the worked example (refs + files + tool state in one transaction), one
# interrupted half-way through its files and recovered, then the journal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
builddir=${REFTX_BUILD_DIR:-build-demo}
[ -d "$builddir" ] || meson setup "$builddir" --buildtype=release -Dtests=false >/dev/null
ninja -C "$builddir" >/dev/null
reftx="$PWD/$builddir/tools/reftx"

repo=$(mktemp -d /tmp/reftx-demo-XXXXXX)
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.invalid
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.invalid
git init -q -b main "$repo"
for i in 1 2 3; do git -C "$repo" commit -q --allow-empty -m "commit $i"; done
c1=$(git -C "$repo" rev-parse HEAD~2); c2=$(git -C "$repo" rev-parse HEAD~1); c3=$(git -C "$repo" rev-parse HEAD)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show_refs() { git -C "$repo" for-each-ref --format='   %(refname) %(objectname:short)' refs/; }

step "scratch repository $repo"
show_refs

step "1. one transaction moving three refs (reftx apply)"
id=$(printf '%s\n' "update refs/heads/main $c2 $c3" "create refs/heads/release $c3" \
  "create refs/tags/v1.0 $c1" | "$reftx" -C "$repo" apply -m "release 1.0: move main, create release + tag")
echo "   committed as transaction $id"
show_refs

step "2. a stale old value: nothing is applied, exit 1"
set +e
printf '%s\n' "create refs/heads/hotfix $c1" "update refs/heads/main $c1 $c3" |
  "$reftx" -C "$repo" apply -m "stale update"
echo "   exit status: $?"
set -e
show_refs

step "3. a transaction killed (SIGKILL) right after its commit decision: REFTX_CRASH_AT=apply.decided"
set +e
REFTX_CRASH_AT=apply.decided "$reftx" -C "$repo" apply -m "interrupted" <<< \
  "$(printf '%s\n' "update refs/heads/main $c3 $c2" "delete refs/heads/release $c3" "create refs/heads/next $c2")"
echo "   exit status: $? (137 = killed)"
set -e
show_refs
echo "   journal says:"; "$reftx" -C "$repo" journal list | sed 's/^/   /'

step "4. reftx recover: the decided transaction is rolled forward, all refs at once"
"$reftx" -C "$repo" recover
show_refs
echo "   second run changes nothing:"; "$reftx" -C "$repo" recover; echo "   (no output, exit $?)"

step "5. the worked example: one transaction = two layer refs + three config files + clearing a staging key"
git_w() { git -C "$repo" "$@"; }
empty_tree=$(git_w mktree </dev/null)
global=$(git_w commit-tree -m "global layer v2" "$empty_tree")
project=$(git_w commit-tree -m "project layer v7" "$empty_tree")
editorconfig=$(printf 'root = true\n[*]\nindent_style = space\n' | git_w hash-object -w --stdin)
app=$(printf '[app]\nname = "demo"\nlog = "info"\n' | git_w hash-object -w --stdin)
db=$(printf '[db]\nurl = "postgres://localhost/demo"\n' | git_w hash-object -w --stdin)
echo "set jin/staging global,project" | "$reftx" -C "$repo" apply -m "stage" >/dev/null
echo "   tool state before:"; "$reftx" -C "$repo" state list | sed 's/^/   /'
id=$("$reftx" -C "$repo" apply -m "apply layers" <<SCRIPT
update refs/jin/layers/global $global
update refs/jin/layers/project/demo $project
write .editorconfig $editorconfig
write config/app.toml $app
write config/db.toml $db
unset jin/staging
SCRIPT
)
echo "   committed as transaction $id"
show_refs
echo "   files:"; (cd "$repo" && for f in .editorconfig config/app.toml config/db.toml; do echo "   --- $f"; sed 's/^/   /' "$f"; done)
echo "   tool state after (jin/staging is gone):"; "$reftx" -C "$repo" state list | sed 's/^/   /'
echo "   git status:"; git_w status --short | sed 's/^/   /'

step "6. killed right after replacing its first file (REFTX_CRASH_AT=apply.file-replaced), then recovered"
app2=$(printf '[app]\nname = "demo"\nlog = "debug"\n' | git_w hash-object -w --stdin)
db2=$(printf '[db]\nurl = "postgres://db.internal/demo"\n' | git_w hash-object -w --stdin)
set +e
REFTX_CRASH_AT=apply.file-replaced "$reftx" -C "$repo" apply -m "debug logging" <<SCRIPT
update refs/jin/layers/project/demo $c3 $project
write config/app.toml $app2 $app
write config/db.toml $db2 $db
set jin/last-applied debug
SCRIPT
echo "   exit status: $? (137 = killed)"
set -e
echo "   half-done on disk: app.toml says '$(grep log "$repo/config/app.toml")', db.toml says '$(grep url "$repo/config/db.toml")'"
"$reftx" -C "$repo" recover
echo "   after recovery: app.toml says '$(grep log "$repo/config/app.toml")', db.toml says '$(grep url "$repo/config/db.toml")'"
echo "   refs/jin/layers/project/demo = $(git_w rev-parse --short refs/jin/layers/project/demo); tool state:"
"$reftx" -C "$repo" state list | sed 's/^/   /'
echo "   temp files left: $(find "$repo" -name '.reftx-*' | wc -l)"

step "7. the journal ($repo/.git/reftx)"
"$reftx" -C "$repo" journal list
echo
"$reftx" -C "$repo" journal show 3
echo
"$reftx" -C "$repo" journal show "$id"
echo
"$reftx" -C "$repo" journal show "$id" --json
echo
echo "git fsck --no-dangling: $(git -C "$repo" fsck --no-dangling 2>&1 | wc -l) problem line(s); lock files left: $(find "$repo/.git" -name '*.lock' | wc -l)"
echo "scratch repository kept at $repo"
