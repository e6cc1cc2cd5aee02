#!/usr/bin/env bash
# Style: every C file is clang-formatted with the repository's .clang-format
# (TAP output, one test per file).
cd "$(dirname "$0")/.."
n=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]'); do
    n=$((n + 1))
    if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "ok $n - clang-format $f"
    else
        echo "not ok $n - clang-format $f (run 'make format')"
    fi
done
echo "1..$n"
