"""What a session patches into the interpreter for a run, above the synchronisation models.

``stdlib``: which names of threading, _thread, time, queue and concurrent.futures are swapped
for the cooperative models; ``bound``: references to the real callables bound before the run;
``adopter``: real primitives the body can reach, made cooperative (``kinds``: what it can tell
without searching). Every change goes through
``instrument.patching.Patcher`` and is undone by it.
"""
