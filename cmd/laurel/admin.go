package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/laurel-edu/laurel/internal/app"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/config"
)

// openStore opens the app for an administrative command: it needs the
// database and the secret key, not Redis or SMTP.
func (m *Main) openStore(ctx context.Context) (*app.App, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	if err := cfg.ValidateStore(); err != nil {
		return nil, err
	}
	return m.openWith(ctx, cfg, true, app.Options{})
}

func (m *Main) userAdd(ctx context.Context, args []string) error {
	fs := m.flags("user add")
	email := fs.String("email", "", "email address (sign-in name)")
	name := fs.String("name", "", "display name")
	role := fs.String("role", "", "owner, admin, team_member or viewer")
	groups := fs.String("groups", "", "comma-separated group ids a team member is limited to")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" || *role == "" {
		return fmt.Errorf("user add: --email, --name and --role are required")
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("user add: --role: %v", err)
	}
	ids, err := parseIDs(*groups)
	if err != nil {
		return fmt.Errorf("user add: --groups: %v", err)
	}
	password, err := readPassword(m)
	if err != nil {
		return err
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	u, generated, err := a.Accounts.CreateUser(ctx, *email, *name, r, ids, password)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	fmt.Fprintf(m.Stdout, "created user %d <%s> (%s)\n", u.ID, u.Email, u.Role)
	if generated != "" {
		fmt.Fprintf(m.Stdout, "password: %s\n", generated)
	}
	return nil
}

// readPassword reads a password from the first line of stdin when stdin is
// not a terminal; an empty result asks CreateUser to generate one.
func readPassword(m *Main) (string, error) {
	if isTerminal(m.Stdin) {
		return "", nil
	}
	line, err := bufio.NewReader(m.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", nil // no stdin: generate
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (m *Main) tokenCreate(ctx context.Context, args []string) error {
	fs := m.flags("token create")
	name := fs.String("name", "", "what the token is for")
	role := fs.String("role", "", "owner, admin, team_member or viewer")
	groups := fs.String("groups", "", "comma-separated group ids a team member's token is limited to")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" || *role == "" {
		return fmt.Errorf("token create: --name and --role are required")
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("token create: --role: %v", err)
	}
	ids, err := parseIDs(*groups)
	if err != nil {
		return fmt.Errorf("token create: --groups: %v", err)
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	tok, err := a.Accounts.CreateToken(ctx, *name, r, ids...)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(m.Stdout, tok)
	return nil
}

func parseIDs(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ids []int64
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%q is not a group id", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
