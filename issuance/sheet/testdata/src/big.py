# Writes big.fods: 3,000 rows whose names mix scripts, so that the .xls
# LibreOffice makes from it has a shared-string table split over many
# CONTINUE records (some strings cut in the middle). make-fixtures.sh turns
# it into ../big.ods and ../big.xls; workbook_test.go recomputes every row.
import datetime
from xml.sax.saxutils import escape
names = ["Соколова-Вишневская Анастасия", "李娜", "Aoife Ní Bhriain", "Paweł Wiśniewski", "Zoë", "Ἀριστοτέλης", "محمد"]
rows = []
for i in range(3000):
    name = f"{names[i % len(names)]} {i}"
    day = datetime.date(2026, 1, 1) + datetime.timedelta(days=i % 365)
    rows.append(
        '<table:table-row>'
        f'<table:table-cell office:value-type="string"><text:p>{escape(name)}</text:p></table:table-cell>'
        f'<table:table-cell office:value-type="string"><text:p>learner{i}@example.edu</text:p></table:table-cell>'
        f'<table:table-cell table:style-name="ce1" office:value-type="date" office:date-value="{day.isoformat()}"><text:p>{day.isoformat()}</text:p></table:table-cell>'
        f'<table:table-cell office:value-type="float" office:value="{i * 0.25}"><text:p>{i * 0.25}</text:p></table:table-cell>'
        '</table:table-row>')
head = open("roster.fods").read().split("<office:body>")[0]
with open("big.fods", "w") as f:
    f.write(head + '<office:body><office:spreadsheet><table:table table:name="Big">'
            '<table:table-row><table:table-cell office:value-type="string"><text:p>Name</text:p></table:table-cell>'
            '<table:table-cell office:value-type="string"><text:p>Email</text:p></table:table-cell>'
            '<table:table-cell office:value-type="string"><text:p>Issue date</text:p></table:table-cell>'
            '<table:table-cell office:value-type="string"><text:p>Hours</text:p></table:table-cell></table:table-row>'
            + "".join(rows) + '</table:table></office:spreadsheet></office:body></office:document>\n')
