package app

import "net/http"

// Handler is handler, for the black-box tests.
func (a *App) Handler() (http.Handler, error) { return a.handler() }
