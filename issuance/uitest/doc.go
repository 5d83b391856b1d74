// Package uitest holds the black-box tests and benchmark of the staff pages
// (issuance/staff, the import pages and delivery's /admin/mail): real
// PostgreSQL and Redis, the real auth middleware, sessions and CSRF
// protection, driven over HTTP as a browser would.
package uitest
