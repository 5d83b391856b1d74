#!/bin/sh
# Regenerates testdata/roster.ods and testdata/roster.xls from roster.fods with
# real LibreOffice (Debian: apt-get install libreoffice-calc-nogui). The
# outputs are committed; tests never need LibreOffice.
set -e
cd "$(dirname "$0")"
out=$(mktemp -d)
soffice --headless --calc --convert-to ods --outdir "$out" roster.fods
soffice --headless --convert-to 'xls:MS Excel 97' --outdir "$out" roster.fods
cp "$out/roster.ods" "$out/roster.xls" ..
rm -rf "$out"
