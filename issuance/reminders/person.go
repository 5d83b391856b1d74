package reminders

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/issuance"
)

// Person is what the expiry emails kept about one person's
// credentials, for their export: each reminder queued and each request to
// renew. (The emails themselves are among PersonCredentials' emails.)
type Person struct {
	Reminders       []PersonReminder `json:"expiry_reminders"`
	RenewalRequests []PersonRenewal  `json:"renewal_requests"`
}

// PersonReminder is one expiry email queued for a credential: a reminder
// DaysBefore days before ExpiresOn, or (Kind "expired") the notice that it
// expired.
type PersonReminder struct {
	CredentialID string    `json:"credential_id"`
	Kind         string    `json:"kind"`
	DaysBefore   int       `json:"days_before"`
	ExpiresOn    string    `json:"expires_on"`
	QueuedAt     time.Time `json:"queued_at"`
}

// PersonRenewal is the person's request to renew a credential expiring on
// ExpiresOn.
type PersonRenewal struct {
	ID           int64     `json:"id"`
	CredentialID string    `json:"credential_id"`
	ExpiresOn    string    `json:"expires_on"`
	RequestedAt  time.Time `json:"requested_at"`
}

// Person returns the expiry reminders and renewal requests of the
// credentials ids (one person's), oldest first; empty lists, not nil, when
// there are none.
func (s *Service) Person(ctx context.Context, ids []string) (Person, error) {
	out := Person{Reminders: []PersonReminder{}, RenewalRequests: []PersonRenewal{}}
	if len(ids) == 0 {
		return out, nil
	}
	const qr = `SELECT credential_id, kind, days, expires_on, created_at FROM credential_reminders
		WHERE credential_id = ANY($1) ORDER BY created_at, credential_id, kind, days DESC`
	var rs []struct {
		CredentialID string    `db:"credential_id"`
		Kind         string    `db:"kind"`
		Days         int       `db:"days"`
		ExpiresOn    time.Time `db:"expires_on"`
		CreatedAt    time.Time `db:"created_at"`
	}
	if err := s.db().SelectContext(ctx, &rs, qr, pq.Array(ids)); err != nil {
		return out, fmt.Errorf("expiry reminders of a person (%d credentials): %w", len(ids), err)
	}
	for _, r := range rs {
		out.Reminders = append(out.Reminders, PersonReminder{CredentialID: r.CredentialID, Kind: r.Kind, DaysBefore: r.Days,
			ExpiresOn: r.ExpiresOn.Format(issuance.DateLayout), QueuedAt: r.CreatedAt})
	}
	const qn = `SELECT id, credential_id, expires_on, created_at FROM renewal_requests WHERE credential_id = ANY($1) ORDER BY id`
	var ns []struct {
		ID           int64     `db:"id"`
		CredentialID string    `db:"credential_id"`
		ExpiresOn    time.Time `db:"expires_on"`
		CreatedAt    time.Time `db:"created_at"`
	}
	if err := s.db().SelectContext(ctx, &ns, qn, pq.Array(ids)); err != nil {
		return out, fmt.Errorf("renewal requests of a person (%d credentials): %w", len(ids), err)
	}
	for _, n := range ns {
		out.RenewalRequests = append(out.RenewalRequests, PersonRenewal{ID: n.ID, CredentialID: n.CredentialID,
			ExpiresOn: n.ExpiresOn.Format(issuance.DateLayout), RequestedAt: n.CreatedAt})
	}
	return out, nil
}
