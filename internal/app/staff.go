package app

import (
	"context"

	"github.com/laurel-edu/laurel/internal/accounts"
)

// groupOptions lists the groups for the staff and token forms' group
// limit pickers.
func (a *App) groupOptions(ctx context.Context) ([]accounts.GroupOption, error) {
	gs, err := a.Issuance.Groups(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]accounts.GroupOption, len(gs))
	for i, g := range gs {
		out[i] = accounts.GroupOption{ID: g.ID, Name: g.Name}
	}
	return out, nil
}
