"use client";

import { useEffect, useRef, useState } from "react";
import { useSocket } from "~/components/realtime/realtime-provider";

// ---------------------------------------------------------------------------
// Live: presence and typing
// ---------------------------------------------------------------------------

export function usePresence(requestId: string) {
  const socket = useSocket();
  const [people, setPeople] = useState<{ id: string; name: string }[]>([]);
  const [typing, setTyping] = useState<Record<string, { name: string; threadId: string | null; until: number }>>({});
  useEffect(() => {
    if (!socket) return;
    const join = () => socket.emit("review:join", { requestId });
    const onPresence = (p: { requestId: string; users: { id: string; name: string }[] }) => p.requestId === requestId && setPeople(p.users);
    const onTyping = (p: { requestId: string; threadId: string | null; user: { id: string; name: string } }) => {
      if (p.requestId !== requestId) return;
      setTyping((t) => ({ ...t, [p.user.id]: { name: p.user.name, threadId: p.threadId, until: Date.now() + 3000 } }));
    };
    socket.on("review.presence", onPresence);
    socket.on("review.typing", onTyping);
    socket.on("connect", join);
    if (socket.connected) join();
    const sweep = setInterval(() => setTyping((t) => Object.fromEntries(Object.entries(t).filter(([, v]) => v.until > Date.now()))), 1000);
    return () => {
      socket.emit("review:leave", { requestId });
      socket.off("review.presence", onPresence);
      socket.off("review.typing", onTyping);
      socket.off("connect", join);
      clearInterval(sweep);
    };
  }, [socket, requestId]);
  const last = useRef(0);
  const sendTyping = (threadId: string | null) => {
    if (!socket || Date.now() - last.current < 1000) return;
    last.current = Date.now();
    socket.emit("review:typing", { requestId, threadId });
  };
  return { people, typing, sendTyping };
}
