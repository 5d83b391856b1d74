package auth

import "context"

// Account is what a session records of the account that signed in.
type Account struct {
	UserID int64
	// Epoch is the account's session epoch at sign-in: a session whose
	// epoch is behind the account's has ended (the account was disabled, or
	// its password changed, since).
	Epoch int
}

// Users is what sign-in needs of the staff accounts, which package accounts
// keeps; the app wires it.
type Users interface {
	// Authenticate checks an email and password. A wrong email, a wrong
	// password, a disabled account and a pending invitation all return the
	// same Unauthorized error.
	Authenticate(ctx context.Context, email, password string) (Account, error)
	// SessionPrincipal returns the principal of a session signed in as
	// userID under epoch. Errors: NotFound for an unknown account,
	// Unauthorized when the session has ended.
	SessionPrincipal(ctx context.Context, userID int64, epoch int) (*Principal, error)
	// TokenPrincipal returns the principal of a live API token. Errors:
	// Unauthorized for an unknown or revoked token.
	TokenPrincipal(ctx context.Context, token string) (*Principal, error)
}
