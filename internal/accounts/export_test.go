package accounts

// CommonPasswordsText exposes the embedded list to the external tests.
func CommonPasswordsText() string { return commonPasswordsText }
