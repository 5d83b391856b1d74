package imports_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// Multiple Groups: one file whose Group column names each row's group, by
// name (any case) or ID. Every row's problem is named (no group, an unknown
// group, an ambiguous name, a group outside the uploader's limit, the
// group's own rules, the same recipient twice for one group); commit creates
// the valid rows in their groups in one go; a Team Member limited to some
// groups cannot import into others, nor see another user's import.
func TestMultiGroupImport(t *testing.T) {
	s, d, api, principals := importEnv(t)
	ctx := context.Background()
	named := func(name string, attrs ...issuance.Attribute) issuance.Group {
		return mustGroup(t, s, func(g *issuance.Group) { g.Name, g.Attributes = name, attrs })
	}
	physics := named("Physics 101", issuance.Attribute{Key: "score", Label: "Score", Type: issuance.NumberAttr, Required: true})
	chemistry := named("Chemistry 101")
	history1, history2 := named("History"), named("history")
	secret := named("Secret Society")
	_ = secret.ID // outside the limited member's groups
	principals["limited"] = &auth.Principal{TokenID: 3, Name: "tm", Role: auth.TeamMember,
		Groups: []int64{physics.ID, chemistry.ID, history1.ID, history2.ID}}

	file := "Name,Email,Issue date,Group,Score\r\n" +
		"Ada Lovelace,ada@example.edu,2026-06-30,physics 101,90\r\n" + // 2: by name, any case
		fmt.Sprintf("Bob Byte,bob@example.edu,2026-06-30,%d,\r\n", chemistry.ID) + // 3: by ID
		"Cy Clone,cy@example.edu,2026-06-30,History,\r\n" + // 4: two groups have this name
		"Di Secret,di@example.edu,2026-06-30,Secret Society,\r\n" + // 5: outside the limit
		"Ed Nowhere,ed@example.edu,2026-06-30,Nowhere,\r\n" + // 6: no such group
		"Fay Blank,fay@example.edu,2026-06-30,,\r\n" + // 7: no group
		"Gus Many,gus@example.edu,2026-06-30,Physics 101,many\r\n" + // 8: the group's rule
		"Ada Again,ADA@example.edu,2026-06-30,Physics 101,80\r\n" + // 9: twice for one group
		"Ada Lovelace,ada@example.edu,2026-06-30,Chemistry 101,\r\n" // 10: same person, another group
	before := tableCounts(t, d)
	code, body := api.send("limited", "POST", "/imports", "text/csv", strings.NewReader(file))
	if code != 201 || body["group_id"] != nil {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := body["id"]
	body = api.ready("limited", id)
	if body["state"] != "ready" || body["rows"] != float64(9) || body["valid"] != float64(3) {
		t.Fatalf("checked: %v\n%s", body, errorMessages(body))
	}
	want := []string{"4:group", "5:group", "6:group", "7:group", "8:attributes.score", "9:recipient.email"}
	if diff := cmp.Diff(want, importErrors(body)); diff != "" {
		t.Errorf("problems (-want +got):\n%s\n%s", diff, errorMessages(body))
	}
	msgs := errorMessages(body)
	for _, frag := range []string{
		fmt.Sprintf(`2 groups are named "History" (IDs %d, %d)`, history1.ID, history2.ID),
		`You may not create credentials in group "Secret Society"`,
		`No group is named "Nowhere"`,
		"The group is missing",
		"appears more than once for this group in the file (first at row 2)",
	} {
		if !strings.Contains(msgs, frag) {
			t.Errorf("problems lack %q:\n%s", frag, msgs)
		}
	}
	gotGroups := body["groups"].([]any)
	wantGroups := []int64{physics.ID, chemistry.ID}
	sort.Slice(wantGroups, func(i, j int) bool { return wantGroups[i] < wantGroups[j] })
	if fmt.Sprint(gotGroups) != fmt.Sprint(wantGroups) {
		t.Errorf("groups %v, want %v", gotGroups, wantGroups)
	}
	if after := tableCounts(t, d); after["credentials"] != before["credentials"] {
		t.Fatalf("checking created credentials: %v → %v", before, after)
	}

	// Another principal limited to some groups cannot see it; the owner can.
	principals["other"] = &auth.Principal{TokenID: 4, Name: "tm2", Role: auth.TeamMember, Groups: []int64{physics.ID, chemistry.ID}}
	if code, _ := api.send("other", "GET", fmt.Sprintf("/imports/%v", id), "", nil); code != 404 {
		t.Errorf("another limited member sees the import: %d", code)
	}
	if code, _ := api.send("owner", "GET", fmt.Sprintf("/imports/%v", id), "", nil); code != 200 {
		t.Errorf("owner: %d", code)
	}

	code, res := api.commit("limited", id, "")
	if code != 200 || res["created"] != float64(3) {
		t.Fatalf("commit: %d %v", code, res)
	}
	var got []string
	if err := d.Select(&got, `SELECT group_id || ':' || recipient_email FROM credentials WHERE import_id IS NOT NULL ORDER BY group_id, recipient_email`); err != nil {
		t.Fatal(err)
	}
	wantCreated := []string{fmt.Sprintf("%d:ada@example.edu", physics.ID), fmt.Sprintf("%d:ada@example.edu", chemistry.ID), fmt.Sprintf("%d:bob@example.edu", chemistry.ID)}
	sort.Strings(got)
	sort.Strings(wantCreated)
	if diff := cmp.Diff(wantCreated, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}

	// The owner may import into every group: the secret row is valid.
	code, body = api.send("owner", "POST", "/imports", "text/csv", strings.NewReader(strings.ReplaceAll(file, "ada@", "ada2@")))
	if code != 201 {
		t.Fatalf("owner upload: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if strings.Contains(errorMessages(body), "Secret Society") || body["valid"] != float64(3) { // rows 2, 5 and 10 (Bob already holds one)
		t.Errorf("owner: valid %v\n%s", body["valid"], errorMessages(body))
	}
	_ = ctx

	// A file without a group column is named as such.
	code, body = api.send("owner", "POST", "/imports", "text/csv", strings.NewReader("Name,Email,Issue date\r\nAda,ada3@example.edu,2026-06-30\r\n"))
	if code != 201 {
		t.Fatalf("upload: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if body["valid"] != float64(0) || !strings.Contains(errorMessages(body), "No column is mapped to the group") {
		t.Errorf("no group column: %v\n%s", body["valid"], errorMessages(body))
	}
}
