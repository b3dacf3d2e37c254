-- processing -> cancelled, once the worker stopped the attempt.
-- ARGV: prefix, now, job id, token, error. Returns {'ok', fields} or {'lost'}.
return finish_leased('cancelled', 'error', ARGV[5])
