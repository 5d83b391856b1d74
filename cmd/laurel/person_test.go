package main

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/issuance"
)

// TestPersonExportAndErase: `laurel person export` prints the person's
// JSON; `laurel person erase` asks first (a wrong or missing answer erases
// nothing), then erases and prints what it did; run again it finds nothing
// left and prints the same reference. The other person is untouched.
func TestPersonExportAndErase(t *testing.T) {
	storeEnv(t)
	ctx := context.Background()
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	defer m.Close()
	a, err := m.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science", CourseName: "DS 101", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := a.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada@uni.example.edu"}, IssuedOn: "2026-01-02"},
		{Recipient: issuance.Recipient{Name: "Bob Babbage", Email: "bob@uni.example.edu"}, IssuedOn: "2026-01-02"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{cs[0].ID, cs[1].ID}}); err != nil {
		t.Fatal(err)
	}

	if _, err := run(t, "", "person", "export", "--email", "ada"); err == nil || !strings.Contains(err.Error(), `person export: --email: "ada" is not one email address`) {
		t.Fatalf("bad email: %v", err)
	}
	out, err := run(t, "", "person", "export", "--email", "ADA@uni.example.edu")
	var rec struct {
		Email       string `json:"email"`
		Credentials []struct {
			ID   string `json:"id"`
			Name string `json:"recipient_name"`
		} `json:"credentials"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rec) != nil || rec.Email != "ada@uni.example.edu" || len(rec.Credentials) != 1 ||
		rec.Credentials[0].ID != cs[0].ID || rec.Credentials[0].Name != "Ada Lovelace" {
		t.Fatalf("export = %q, %v", out, err)
	}

	for _, answer := range []string{"", "yes\n"} {
		if _, err := run(t, answer, "person", "erase", "--email", "ada@uni.example.edu"); err == nil || !strings.Contains(err.Error(), "not confirmed") {
			t.Fatalf("answer %q: %v", answer, err)
		}
	}
	if c, err := a.Issuance.Credential(ctx, cs[0].ID); err != nil || c.State != issuance.Published || c.Recipient.Name != "Ada Lovelace" {
		t.Fatalf("erased without confirmation: %+v %v", c, err)
	}
	out, err = run(t, "erase\n", "person", "erase", "--email", "ada@uni.example.edu")
	ref := regexp.MustCompile(`(?m)^reference: ([0-9a-f]{24})$`).FindStringSubmatch(out)
	if err != nil || !strings.Contains(out, "erased: 1 published credential revoked") || ref == nil {
		t.Fatalf("erase = %q, %v", out, err)
	}
	if c, err := a.Issuance.Credential(ctx, cs[0].ID); err != nil || c.State != issuance.Revoked || !c.Erased() || c.RevocationReason != issuance.ErasedReason {
		t.Fatalf("after erase: %+v %v", c, err)
	}
	if c, err := a.Issuance.Credential(ctx, cs[1].ID); err != nil || c.State != issuance.Published || c.Recipient.Name != "Bob Babbage" {
		t.Fatalf("Bob after Ada's erasure: %+v %v", c, err)
	}
	out, err = run(t, "", "person", "erase", "--yes", "--email", "ada@uni.example.edu")
	if err != nil || !strings.Contains(out, "erased: nothing left to erase") || !strings.Contains(out, "reference: "+ref[1]) {
		t.Fatalf("erase again = %q, %v", out, err)
	}
}
