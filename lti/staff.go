package lti

import "context"

// Staff is what lti needs of the staff accounts. Package accounts keeps
// them and implements it; the app wires it (Tool.Staff), so lti reads no
// table of theirs.
type Staff interface {
	// StaffNames returns the current name of each account of ids that
	// exists, by id.
	StaffNames(ctx context.Context, ids []int64) (map[int64]string, error)
	// StaffIDByEmail returns the id of the account that is not disabled
	// whose email is email (in any case), or 0 when there is none.
	StaffIDByEmail(ctx context.Context, email string) (int64, error)
}
