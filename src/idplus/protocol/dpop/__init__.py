"""DPoP, sender-constrained tokens (RFC 9449): proofs, server nonces and the replay record.

`proof` checks one DPoP proof (§4.3) without any framework or store; `nonces` makes and checks
the stateless server nonces (§8, §9) every instance accepts; `replay` spends a proof in the
shared store so that it is accepted once on all instances (§11.1).
"""
