package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
)

// `laurel token create --groups` limits a team member's token to those
// groups, as `laurel user add --groups` limits an account; the flag is
// refused for other roles and for unknown groups, and then stores nothing.
func TestTokenCreateWithGroups(t *testing.T) {
	storeEnv(t)
	if _, err := run(t, "", "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	d, err := sqlx.Open("postgres", os.Getenv("LAUREL_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var design, ga, gb int64
	if err := d.Get(&design, `INSERT INTO designs (name, kind, title) VALUES ('Classic', 'certificate', 'Certificate') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*int64{&ga, &gb} {
		if err := d.Get(g, `INSERT INTO groups (name, course_name, design_id) VALUES ('G', 'C', $1) RETURNING id`, design); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := run(t, "", "token", "create", "--name", "registrar-sync", "--role", "team_member", "--groups", strconv.FormatInt(ga, 10))
	if err != nil || !regexp.MustCompile(`^lrl_\S+\n$`).MatchString(tok) {
		t.Fatalf("token create --groups printed %q (%v); want the token alone on stdout", tok, err)
	}
	var limited []int64
	if err := d.Select(&limited, `SELECT g.group_id FROM api_token_groups g JOIN api_tokens t ON t.id = g.token_id WHERE t.name = 'registrar-sync'`); err != nil {
		t.Fatal(err)
	}
	if len(limited) != 1 || limited[0] != ga {
		t.Fatalf("token limited to %v, want [%d]", limited, ga)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "admin", "--groups", strconv.FormatInt(ga, 10)}, "only a team member can be limited to groups"},
		{[]string{"--role", "team_member", "--groups", "999999"}, "does not exist"},
		{[]string{"--role", "team_member", "--groups", "1,x"}, `--groups: "x" is not a group id`},
	} {
		_, err := run(t, "", append([]string{"token", "create", "--name", "refused"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("token create %v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM api_tokens WHERE name = 'refused'`); err != nil || n != 0 {
		t.Fatalf("refused tokens stored: %d (%v)", n, err)
	}
}
