package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// personExport prints everything Laurel holds about one person as JSON
// (the export of /admin/people), for a GDPR access or FERPA request.
func (m *Main) personExport(ctx context.Context, args []string) error {
	fs := m.flags("person export")
	email := fs.String("email", "", "the person's email address (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	rec, err := a.People.Find(ctx, *email)
	if err != nil {
		return personError("person export", err)
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rec)
}

// personErase erases one person (GDPR article 17), after showing what
// Laurel holds about them and asking for confirmation unless --yes.
func (m *Main) personErase(ctx context.Context, args []string) error {
	fs := m.flags("person erase")
	email := fs.String("email", "", "the person's email address (required)")
	yes := fs.Bool("yes", false, "erase without asking for confirmation")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	rec, err := a.People.Find(ctx, *email)
	if err != nil {
		return personError("person erase", err)
	}
	if !*yes {
		fmt.Fprintf(m.Stderr, "%s: %d credential(s), %d credential email(s), %d import row(s), %d course membership(s), %d LMS user(s), %d Canvas user(s), %d audit entr(y/ies).\n",
			rec.Email, len(rec.Credentials), len(rec.Emails), len(rec.ImportRows), len(rec.CourseMemberships), len(rec.LMSUsers), len(rec.CanvasUsers), len(rec.AuditEntries))
		fmt.Fprintf(m.Stderr, "Erase %s? Unpublished credentials are deleted, published ones revoked, and the person's data replaced by a tombstone. This cannot be undone.\nType \"erase\" to confirm: ", rec.Email)
		line, err := bufio.NewReader(m.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != "erase" {
			if err != nil && strings.TrimSpace(line) == "" {
				return errors.New("person erase: not confirmed (no answer on stdin; pass --yes to erase without asking)")
			}
			return errors.New("person erase: not confirmed; nothing was erased")
		}
	}
	e, err := a.People.Erase(ctx, "system:cli", rec.Email)
	if err != nil {
		return personError("person erase", err)
	}
	fmt.Fprintf(m.Stdout, "erased: %s\nreference: %s\n", e.Summary(), e.Ref)
	return nil
}

// personError names the --email flag in a bad email's message.
func personError(cmd string, err error) error {
	if fe := apperr.FieldErrors(err); len(fe) > 0 {
		return fmt.Errorf("%s: --email: %s", cmd, fe[0].Message)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}
