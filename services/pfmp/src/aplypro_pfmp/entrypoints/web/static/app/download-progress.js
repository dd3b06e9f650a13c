// A download being prepared (download_progress.html): every two seconds the page is fetched again and its
// #batch part replaces this one's, the status line kept and its text changed, so screen readers announce it
// (a live region) and nobody loses their place, as a reload would make them. Stops once the batch is done or failed.
const batch = document.getElementById("batch");
const status = batch.querySelector('[role="status"]');

async function poll() {
  let fresh = null;
  try {
    const answer = await fetch(location.href, {credentials: "same-origin", headers: {Accept: "text/html"}});
    if (answer.ok) {
      fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById("batch");
    }
  } catch {
    // the network hiccuped: try again at the next tick
  }
  if (fresh === null) {
    setTimeout(poll, 5000);
    return;
  }
  const freshStatus = fresh.querySelector('[role="status"]');
  status.textContent = freshStatus ? freshStatus.textContent : "";
  for (const node of [...batch.children]) if (node !== status) node.remove();
  for (const node of [...fresh.children]) if (node.getAttribute("role") !== "status") batch.append(node);
  batch.dataset.state = fresh.dataset.state;
  if (fresh.dataset.state === "running") setTimeout(poll, 2000);
}

setTimeout(poll, 2000);
