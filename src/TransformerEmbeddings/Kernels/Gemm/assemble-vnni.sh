#!/usr/bin/env bash
# Regenerates the machine code in QgemmAvx512Vnni.cs from QgemmAvx512Vnni.S (GNU binutils: as, objcopy, readelf).
# Run it after editing the .S file; `git diff` then shows whether the bytes changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

as --64 -o "$tmp/code.o" "$here/QgemmAvx512Vnni.S"
# The bytes are copied to an arbitrary address: they must not need the linker.
if readelf -r "$tmp/code.o" | grep -q 'Relocation section'; then
    echo "QgemmAvx512Vnni.S needs relocations; it must be position-independent and self-contained" >&2
    exit 1
fi
objcopy -O binary --only-section=.text "$tmp/code.o" "$tmp/code.bin"

# 16 bytes a line, as C# literals, between the markers of QgemmAvx512Vnni.cs.
od -An -v -tx1 -w16 "$tmp/code.bin" | sed -E 's/ ([0-9a-f]{2})/0x\1, /g; s/, $/,/; s/^/        /' > "$tmp/bytes"
awk -v bytes="$tmp/bytes" '
    /\/\/ <machine-code>/ { print; while ((getline line < bytes) > 0) print line; skip = 1; next }
    /\/\/ <\/machine-code>/ { skip = 0 }
    !skip { print }
' "$here/QgemmAvx512Vnni.cs" > "$tmp/out.cs"
cp "$tmp/out.cs" "$here/QgemmAvx512Vnni.cs"
echo "$(stat -c %s "$tmp/code.bin") bytes written to QgemmAvx512Vnni.cs"
