#!/bin/sh
# Regenerates testdata/{roster,big}.{ods,xls} from roster.fods and big.py with
# real LibreOffice (Debian: apt-get install libreoffice-calc-nogui). The
# outputs are committed; tests never need LibreOffice.
set -e
cd "$(dirname "$0")"
out=$(mktemp -d)
python3 big.py
for f in roster big; do
	soffice --headless --calc --convert-to ods --outdir "$out" $f.fods
	soffice --headless --convert-to 'xls:MS Excel 97' --outdir "$out" $f.fods
	cp "$out/$f.ods" "$out/$f.xls" ..
done
rm -rf "$out" big.fods
