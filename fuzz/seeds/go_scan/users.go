package users

import "fmt"

var (
	greeting = fmt.Sprintf("hi")
	secrets  struct {
		GitHubAPIToken string
		SessionKey     string // signs session cookies
	}
)
