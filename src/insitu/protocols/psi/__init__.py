"""Private set intersection: semi-honest ECDH-PSI over ristretto255 (pure protocol parties).

Start with :class:`PsiReceiver` and :class:`PsiSender`; the recipe that runs
them between nodes is :mod:`insitu.computations.psi`.
"""

from insitu.protocols.psi.modes import Mode, ReceiverOutput, SenderOutput
from insitu.protocols.psi.receiver import PsiReceiver
from insitu.protocols.psi.sender import PsiSender

__all__ = ["Mode", "PsiReceiver", "PsiSender", "ReceiverOutput", "SenderOutput"]
