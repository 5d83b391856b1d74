# Writes ../windows-1252-lost-letters.csv as Excel's plain "CSV" does on a
# Western-European Windows: Windows-1252, every letter it lacks written as "?"
# (Python's cp1252 codec with errors="replace" does the same substitution).
names = ["Ana Lima", "Zoë Müller", "Dmitri Соколов", "José Núñez", "Søren Kierkegaard", "Ólafur Arnalds",
         "Paweł Wiśniewski", "François Côté", "Anne Dupont", "李娜", "Łukasz Żak", "Margaret O'Brien"]
lines = ["Name,Email,Issue date"]
for i, n in enumerate(names):
    lines.append(f"{n},learner{i + 1}@example.edu,2026-06-30")
with open("../windows-1252-lost-letters.csv", "wb") as f:
    f.write(("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace"))
