package signing

import (
	"context"
	"fmt"

	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// ErasePerson replaces the signed documents of credentials ids, which the
// core has just revoked under an erased person's tombstone: a stored
// signature made for an older version (the person's name and email) is
// deleted and, when signing is configured, the credential is signed again
// as it now is (the tombstone, revoked), so /c/:id.json and .jwt never
// serve the erased data again; each status list holding one of them is
// re-signed at once with its bit set. It returns how many stored
// documents it replaced. Running it again changes nothing.
func (s *Service) ErasePerson(ctx context.Context, ids []string) (int, error) {
	replaced := 0
	lists := map[int64]bool{}
	for _, id := range ids {
		v, ok, err := s.Core.PublicVersionOf(ctx, id)
		if err != nil {
			return replaced, err
		}
		if !ok {
			continue
		}
		lists[v.Seq/openbadges.StatusListSize] = true
		const q = `DELETE FROM credential_signatures WHERE credential_id = $1 AND signed_for <> $2`
		res, err := s.DB.ExecContext(ctx, q, id, v.Version)
		if err != nil {
			return replaced, fmt.Errorf("erase signed documents of credential %s: %w", id, err)
		}
		n, _ := res.RowsAffected()
		replaced += int(n)
	}
	if !s.Enabled() || len(ids) == 0 {
		return replaced, nil
	}
	if err := s.Sign(ctx, ids, false); err != nil {
		return replaced, fmt.Errorf("sign %d erased credentials: %w", len(ids), err)
	}
	for list := range lists {
		if _, err := s.statusList(ctx, list); err != nil {
			return replaced, err
		}
	}
	return replaced, nil
}
