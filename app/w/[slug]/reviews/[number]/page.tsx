import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { ReviewRoom } from "~/components/reviews/review-room";

export async function generateMetadata({ params }: { params: Promise<{ number: string }> }): Promise<Metadata> {
  return { title: `Review #${(await params).number}` };
}

export default async function Page({ params }: { params: Promise<{ number: string }> }) {
  const n = Number((await params).number);
  if (!Number.isInteger(n) || n < 1) notFound();
  return <ReviewRoom number={n} />;
}
