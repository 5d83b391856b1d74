package accounts

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
)

// AddCreatedGroup adds group groupID, which actor (a team member or API
// token limited to some groups, as "user:<id>:…" or "token:<id>:…") just
// created, to actor's group limit in tx, audited: the issuance core calls it
// (issuance.GroupLimits) in the transaction that creates the group, so a
// limited member can work in the group they made. An actor without a limit
// (every group) is left as it is. Errors: Forbidden for any other actor.
func (s *Service) AddCreatedGroup(ctx context.Context, tx *sqlx.Tx, actor string, groupID int64) error {
	kind, id, _ := audit.ParseActor(actor)
	var table, entity string
	switch {
	case kind == "user" && id != 0:
		table, entity = "user_groups", "user"
	case kind == "token" && id != 0:
		table, entity = "api_token_groups", "api_token"
	default:
		return apperr.Errorf(apperr.Forbidden, "Only a staff member or an API token can create a group.")
	}
	var before []int64
	var q string
	if table == "user_groups" {
		q = `SELECT group_id FROM user_groups WHERE user_id = $1 ORDER BY group_id FOR UPDATE`
	} else {
		q = `SELECT group_id FROM api_token_groups WHERE token_id = $1 ORDER BY group_id FOR UPDATE`
	}
	if err := tx.SelectContext(ctx, &before, q, id); err != nil {
		return fmt.Errorf("add group %d to the limit of %s %d: %w", groupID, entity, id, err)
	}
	if len(before) == 0 {
		return nil // no limit: they already see every group
	}
	if table == "user_groups" {
		q = `INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	} else {
		q = `INSERT INTO api_token_groups (token_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	}
	if _, err := tx.ExecContext(ctx, q, id, groupID); err != nil {
		return fmt.Errorf("add group %d to the limit of %s %d: %w", groupID, entity, id, err)
	}
	after := append(append([]int64{}, before...), groupID)
	return audit.Record(ctx, tx, s.now(), actor, "update", entity, fmt.Sprint(id),
		map[string]any{"groups": before}, map[string]any{"groups": after, "reason": "created the group"})
}
