//! Listings on the command line: a header row, then one row per item, columns padded to the widest
//! cell so they line up.

/// The table as text, one line per row, header first. Every row has as many cells as `header`.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_the_header() {
        let rows = vec![
            vec![
                "1".to_owned(),
                "a@example.com".to_owned(),
                "active".to_owned(),
            ],
            vec!["22".to_owned(), "b@x.io".to_owned(), "disabled".to_owned()],
        ];
        assert_eq!(
            render(&["ID", "EMAIL", "STATE"], &rows),
            "ID  EMAIL          STATE\n1   a@example.com  active\n22  b@x.io         disabled\n"
        );
    }
}
