"""Forgotten passwords (issue 16 item 7): the user names the phone number or e-mail they log
in with and proves it with a one-time code by SMS; an account that requires two factors also
opens a one-time link sent to its e-mail, since one factor must never reset it. Then a new
password, set in one unit of work that ends every session, revokes the refresh tokens and
tells the user.

The pages never say whether an account exists: an unknown name gets a reset without a code,
through the same pages, limits, steps and database statements. Starting is throttled per name
and per client address like a password login, codes per phone number like login SMS, and
wrong guesses per reset and per name across all its resets (a day's budget); every reset is
bound to the browser that started it, which also keeps the handle of the login it came from.
A new password, by a reset or on the account page, ends every reset of the user.
"""
