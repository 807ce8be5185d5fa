package app

import (
	"log/slog"

	"postern/internal/auth"
	"postern/internal/jmap"
	"postern/internal/store"
)

// newJMAP builds the JMAP core: passwords and bearer tokens through the
// shared login throttle (and the webmail's session cookie, its CSRF
// tokens signed with csrfKey), push (EventSource and WebSocket) from the
// store's change events with the state strings of internal/jmapmail.
func newJMAP(st store.Store, authSvc *auth.Service, blobs jmap.Blobs, csrfKey []byte, logger *slog.Logger) (*jmap.Server, *jmap.Tokens) {
	tokens := jmap.NewTokens(jmap.BasicAuth{Auth: authSvc}, st, jmap.TokenOptions{Logger: logger, CSRFKey: csrfKey})
	changes := &jmap.StoreChanges{
		Notifier:      st.Notifier(),
		ModSeq:        st.AccountModSeq,
		Types:         []string{"Mailbox", "Email", "Thread"},
		DeliveryTypes: []string{"EmailDelivery"},
		Logger:        logger,
	}
	return jmap.New(jmap.Options{Auth: tokens, Tokens: tokens, Changes: changes, Blobs: blobs, Logger: logger}), tokens
}
