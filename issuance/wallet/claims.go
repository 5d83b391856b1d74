package wallet

// Claims: a credential signed for a holder, recorded and audited in the
// same transaction as the use of the offer that allowed it.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/issuance/signing"
)

// Claim is one credential claimed into a wallet.
type Claim struct {
	CredentialID string    `db:"credential_id" json:"credential_id"`
	Holder       string    `db:"holder" json:"holder"`
	Protocol     string    `db:"protocol" json:"protocol"`
	Format       string    `db:"format" json:"format"`
	ClaimedAt    time.Time `db:"claimed_at" json:"claimed_at"`
}

// ProtocolName is how a page names the way a claim was made.
func (c Claim) ProtocolName() string {
	switch c.Protocol {
	case "oid4vci":
		return "an OpenID4VCI wallet"
	case "lcw", "vcapi":
		return "the Learner Credential Wallet"
	}
	return "a wallet"
}

// formatName is how a page names a credential format.
func formatName(format string) string {
	if format == "jwt_vc_json" {
		return "Open Badge as a JSON Web Token"
	}
	return "Open Badge with a Data Integrity proof"
}

// FormatName is how a page names the claim's credential format.
func (c Claim) FormatName() string { return formatName(c.Format) }

// claim signs credential id for holder, and in one transaction runs spend
// (which spends the offer's use or token, and may refuse), records the claim
// and audits it. Signing comes first: a signing failure leaves the offer
// unspent.
func (s *Service) claim(ctx context.Context, id, holder, protocol, format string, spend func(context.Context, *sqlx.Tx) error) (signing.HolderCopy, error) {
	cp, err := s.Signing.SignForHolder(ctx, id, holder)
	if err != nil {
		return signing.HolderCopy{}, err
	}
	now := s.now()
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if err := spend(ctx, tx); err != nil {
			return err
		}
		const q = `INSERT INTO wallet_claims (credential_id, holder, protocol, format, claimed_at) VALUES ($1, $2, $3, $4, $5)`
		if _, err := tx.ExecContext(ctx, q, id, holder, protocol, format, now); err != nil {
			return fmt.Errorf("record wallet claim of %s: %w", id, err)
		}
		return auditlog.Record(ctx, tx, now, "recipient:wallet", "wallet-claim", "credential", id, nil,
			map[string]any{"holder": holder, "wallet": Claim{Protocol: protocol}.ProtocolName(), "form": formatName(format)})
	})
	if err != nil {
		return signing.HolderCopy{}, err
	}
	return cp, nil
}

// Claims returns credential id's claims, oldest first.
func (s *Service) Claims(ctx context.Context, id string) ([]Claim, error) {
	const q = `SELECT credential_id, holder, protocol, format, claimed_at FROM wallet_claims
		WHERE credential_id = $1 ORDER BY claimed_at, id`
	var out []Claim
	if err := s.DB.SelectContext(ctx, &out, q, id); err != nil {
		return nil, fmt.Errorf("wallet claims of credential %s: %w", id, err)
	}
	return out, nil
}

// CredentialsOfHolder returns the ids of the credentials claimed by the
// holder DID did (a DID URL's fragment is ignored), newest claim first.
func (s *Service) CredentialsOfHolder(ctx context.Context, did string) ([]string, error) {
	did, _, _ = strings.Cut(strings.TrimSpace(did), "#")
	const q = `SELECT credential_id FROM wallet_claims WHERE holder = $1
		GROUP BY credential_id ORDER BY max(claimed_at) DESC LIMIT 1000`
	var ids []string
	if err := s.DB.SelectContext(ctx, &ids, q, did); err != nil {
		return nil, fmt.Errorf("credentials of holder: %w", err)
	}
	return ids, nil
}

// ClaimLines are credential id's claims as the staff credential page shows
// them: "Claimed into a wallet on …", oldest first.
func (s *Service) ClaimLines(ctx context.Context, id string) ([]string, error) {
	cs, err := s.Claims(ctx, id)
	if err != nil {
		return nil, err
	}
	l := s.Core.Locale(ctx)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("Claimed into a wallet on %s (%s; %s), bound to %s.", l.DateTime(c.ClaimedAt), c.ProtocolName(), c.FormatName(), c.Holder)
	}
	return out, nil
}

// PersonClaims are the claims of credentials ids (a person's, for their
// export), oldest first.
func (s *Service) PersonClaims(ctx context.Context, ids []string) ([]Claim, error) {
	const q = `SELECT credential_id, holder, protocol, format, claimed_at FROM wallet_claims
		WHERE credential_id = ANY($1) ORDER BY claimed_at, id`
	out := []Claim{}
	if err := s.DB.SelectContext(ctx, &out, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("wallet claims of %d credentials: %w", len(ids), err)
	}
	return out, nil
}

// ErasePerson forgets the wallets of credentials ids (a person's, erased):
// their claims (the holders' DIDs) and their offers and tokens. It returns
// how many claims it deleted; running it again deletes nothing.
func (s *Service) ErasePerson(ctx context.Context, ids []string) (int, error) {
	var n int64
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const qc = `DELETE FROM wallet_claims WHERE credential_id = ANY($1)`
		r, err := tx.ExecContext(ctx, qc, pq.Array(ids))
		if err != nil {
			return fmt.Errorf("erase wallet claims: %w", err)
		}
		n, _ = r.RowsAffected()
		const qo = `DELETE FROM wallet_offers WHERE credential_id = ANY($1)`
		if _, err := tx.ExecContext(ctx, qo, pq.Array(ids)); err != nil {
			return fmt.Errorf("erase wallet offers: %w", err)
		}
		return nil
	})
	return int(n), err
}
