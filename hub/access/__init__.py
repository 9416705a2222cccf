"""What the data gateway serves a tenant's staff: their scenarios, the catalog as their scenario
sees it, their data lists, and desensitized samples. HTTP lives in :mod:`hub.web`; this
package decides, so the rules can be tested without a server."""
