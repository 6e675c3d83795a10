"""Every reaction of the provisioner to an event or a command, one small ``verb_noun``
function each; none yet."""
