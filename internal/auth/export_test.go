package auth

// SessionCookie is the session cookie's name, for the black-box tests.
const SessionCookie = sessionCookie
